"""The AWS deployment: a CDK v2 app (``app.py``) of two stacks, the main one in the home
region (buckets, resizer, distribution, purge, precompute) and the edge function's in
us-east-1. The functions' code is the deployed packages', zipped by ``infra/package.py``."""
