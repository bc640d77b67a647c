"""imgedge's infrastructure: the one-machine local stack (local/) and the command line."""
