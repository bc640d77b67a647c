"""The AWS deployment: a CDK v2 app (``app.py``) of two stacks, the main one in the home
region (buckets, resizer, distribution) and the edge function's in us-east-1."""
