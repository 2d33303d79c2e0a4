"""S3 and SQS adapters. Clients are created lazily, once per container; endpoints come from
boto3's own `AWS_ENDPOINT_URL`, never from code."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from functools import cache
from pathlib import Path
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
    def __init__(self, bucket: str, client: Any = None) -> None:
        self.bucket = bucket
        self._client = client  # tooling with its own client (the local cloud's sweep); else the container's

    @property
    def client(self) -> Any:
        return self._client or _s3()

    def put(self, key: str, body: bytes, content_type: str) -> str:
        """Store the object; its ETag."""
        return self.client.put_object(Bucket=self.bucket, Key=key, Body=body, ContentType=content_type)["ETag"]

    def get(self, key: str) -> bytes:
        return self.client.get_object(Bucket=self.bucket, Key=key)["Body"].read()

    def get_if_exists(self, key: str) -> bytes | None:
        try:
            return self.get(key)
        except self.client.exceptions.NoSuchKey:
            return None

    def get_with_etag(self, key: str) -> tuple[bytes, str, dict[str, str]]:
        """The object's bytes, the ETag of exactly those bytes (one GET, no race with a later write) and
        its user metadata (`x-amz-meta-*`)."""
        reply = self.client.get_object(Bucket=self.bucket, Key=key)
        return reply["Body"].read(), reply["ETag"], reply.get("Metadata") or {}

    def etag(self, key: str) -> str | None:
        """The object's ETag, or None if there is no such object."""
        try:
            return self.client.head_object(Bucket=self.bucket, Key=key)["ETag"]
        except self.client.exceptions.ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in ("404", "NoSuchKey", "NotFound"):
                return None
            raise

    def delete(self, key: str) -> None:
        self.client.delete_object(Bucket=self.bucket, Key=key)

    def delete_many(self, keys: list[str]) -> None:
        for start in range(0, len(keys), 1000):  # S3's limit per request
            objects = [{"Key": key} for key in keys[start:start + 1000]]
            self.client.delete_objects(Bucket=self.bucket, Delete={"Objects": objects, "Quiet": True})

    def size(self, key: str) -> int | None:
        """The object's size in bytes, or None if there is no such object."""
        try:
            return int(self.client.head_object(Bucket=self.bucket, Key=key)["ContentLength"])
        except self.client.exceptions.ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in ("404", "NoSuchKey", "NotFound"):
                return None
            raise

    # A large object written in parts (a dataset export): each part at least 5 MiB but the last.
    def start_upload(self, key: str, content_type: str) -> str:
        return self.client.create_multipart_upload(Bucket=self.bucket, Key=key, ContentType=content_type)["UploadId"]

    def upload_part(self, key: str, upload_id: str, number: int, body: bytes) -> str:
        """Write part `number`; its ETag."""
        return self.client.upload_part(Bucket=self.bucket, Key=key, UploadId=upload_id, PartNumber=number,
                                       Body=body)["ETag"]

    def complete_upload(self, key: str, upload_id: str, parts: list[dict[str, Any]]) -> None:
        self.client.complete_multipart_upload(Bucket=self.bucket, Key=key, UploadId=upload_id,
                                              MultipartUpload={"Parts": parts})

    def abort_upload(self, key: str, upload_id: str) -> bool:
        """Drop an unfinished upload's parts; False if S3 refused (the bucket's lifecycle rule removes
        them within a day anyway)."""
        try:
            self.client.abort_multipart_upload(Bucket=self.bucket, Key=key, UploadId=upload_id)
            return True
        except self.client.exceptions.ClientError:
            return False

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

    def presigned_post(self, key: str, content_type: str, expires: int, size: int) -> dict[str, Any]:
        """A browser POST form for one object: this key, this content type and exactly `size` bytes.

        The policy's conditions name only the fields we hand out (boto3 adds bucket, key and the
        x-amz-* signing fields): AWS refuses a form carrying any other field (`acl`, `x-amz-meta-*`,
        `success_action_redirect`, ...) with 403, and a body of any other length with 400
        (EntityTooSmall / EntityTooLarge). LocalStack checks the listed conditions (content type,
        length) but lets unlisted fields through; moto checks nothing (see infra/README.md)."""
        if not 1 <= size <= MAX_UPLOAD_BYTES:
            raise ValueError(f"size must be 1..{MAX_UPLOAD_BYTES} bytes")
        return self.client.generate_presigned_post(
            Bucket=self.bucket,
            Key=key,
            Fields={"Content-Type": content_type},
            Conditions=[{"Content-Type": content_type}, ["content-length-range", size, size]],
            ExpiresIn=expires,
        )

    def presigned_get(self, key: str, expires: int = 300, download_as: str | None = None) -> str:
        """A GET URL for one object; `download_as`: the browser saves it under that file name."""
        params = {"Bucket": self.bucket, "Key": key}
        if download_as is not None:
            params["ResponseContentDisposition"] = f'attachment; filename="{download_as}"'
        return self.client.generate_presigned_url("get_object", Params=params, ExpiresIn=expires)

    def listing(self, prefix: str) -> Iterator[tuple[str, datetime]]:
        """(key, last modified) of every object under `prefix`, page by page."""
        paginator = self.client.get_paginator("list_objects_v2")
        for page in paginator.paginate(Bucket=self.bucket, Prefix=prefix):
            for obj in page.get("Contents", []):
                yield obj["Key"], obj["LastModified"]

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

    def download(self, key: str, path: Path) -> None:
        """Stream the object into a file (a dataset export: too large to hold in memory), in parts."""
        self.client.download_file(self.bucket, key, str(path))


class WorkQueue:
    """One SQS queue of work (the inference queue, the export queue)."""

    def __init__(self, url: str) -> None:
        self.url = url

    def send(self, body: str) -> None:
        _sqs().send_message(QueueUrl=self.url, MessageBody=body)

    def ping(self) -> None:
        _sqs().get_queue_attributes(QueueUrl=self.url, AttributeNames=["QueueArn"])
