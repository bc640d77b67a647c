"""The whole pipeline on one machine: embedded S3, CloudFront and function-URL emulators."""
