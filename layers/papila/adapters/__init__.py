"""Driven adapters: MongoDB, S3 and SQS, the audit log, the PDF report."""
