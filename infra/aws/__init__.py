"""The AWS deployment: a CDK v2 app (``app.py``) of two stacks, the main one in the home
region (buckets, resizer, distribution, purge, precompute) and the edge function's in
us-east-1. This file imports nothing: ``lambda_src/``'s handlers run on Lambda through it."""
