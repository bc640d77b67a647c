"""Stage 1, Lambda@Edge (stdlib only): viewer query parameters -> one canonical cache key."""
