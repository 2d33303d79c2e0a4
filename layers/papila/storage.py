"""S3 and SQS adapters. Clients are created lazily, once per container; endpoints come from
boto3's own `AWS_ENDPOINT_URL`, never from code."""

from __future__ import annotations

from functools import cache
from typing import Any

import boto3
from botocore.config import Config

MAX_UPLOAD_BYTES = 20 * 1024 * 1024


@cache
def _s3() -> Any:
    # SigV4 + virtual-host-free paths work the same on AWS, LocalStack and moto.
    return boto3.client("s3", config=Config(signature_version="s3v4", s3={"addressing_style": "path"}))


@cache
def _sqs() -> Any:
    return boto3.client("sqs")


class ImageBucket:
    def __init__(self, bucket: str) -> None:
        self.bucket = bucket

    @property
    def client(self) -> Any:
        return _s3()

    def put(self, key: str, body: bytes, content_type: str) -> None:
        self.client.put_object(Bucket=self.bucket, Key=key, Body=body, ContentType=content_type)

    def get(self, key: str) -> bytes:
        return self.client.get_object(Bucket=self.bucket, Key=key)["Body"].read()

    def exists(self, key: str) -> bool:
        try:
            self.client.head_object(Bucket=self.bucket, Key=key)
            return True
        except self.client.exceptions.ClientError:
            return False

    def touch(self, key: str) -> None:
        """Re-emit `s3:ObjectCreated` for an existing object (a rerun): copy it onto itself, keeping
        its content type and metadata; MetadataDirective REPLACE is what makes S3 accept the copy."""
        head = self.client.head_object(Bucket=self.bucket, Key=key)
        self.client.copy_object(
            Bucket=self.bucket,
            Key=key,
            CopySource={"Bucket": self.bucket, "Key": key},
            MetadataDirective="REPLACE",
            ContentType=head.get("ContentType") or "application/octet-stream",
            Metadata=head.get("Metadata") or {},
        )

    def presigned_post(self, key: str, content_type: str, expires: int) -> dict[str, Any]:
        return self.client.generate_presigned_post(
            Bucket=self.bucket,
            Key=key,
            Fields={"Content-Type": content_type},
            Conditions=[{"Content-Type": content_type}, ["content-length-range", 1, MAX_UPLOAD_BYTES]],
            ExpiresIn=expires,
        )

    def presigned_get(self, key: str, expires: int = 300) -> str:
        return self.client.generate_presigned_url(
            "get_object", Params={"Bucket": self.bucket, "Key": key}, ExpiresIn=expires
        )

    def delete_prefix(self, prefix: str) -> int:
        deleted = 0
        paginator = self.client.get_paginator("list_objects_v2")
        for page in paginator.paginate(Bucket=self.bucket, Prefix=prefix):
            objects = [{"Key": o["Key"]} for o in page.get("Contents", [])]
            if objects:
                self.client.delete_objects(Bucket=self.bucket, Delete={"Objects": objects, "Quiet": True})
                deleted += len(objects)
        return deleted

    def ping(self) -> None:
        self.client.head_bucket(Bucket=self.bucket)


class InferenceQueue:
    def __init__(self, url: str) -> None:
        self.url = url

    def ping(self) -> None:
        _sqs().get_queue_attributes(QueueUrl=self.url, AttributeNames=["QueueArn"])
