"""Mutation testing of imgedge's core modules (``make mutate``; docs/mutation.md)."""
