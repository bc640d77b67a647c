"""The regional resizer: reads an original from S3, renders a derivative, stores it."""
