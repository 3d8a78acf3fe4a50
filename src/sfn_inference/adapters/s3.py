"""The S3 object store. boto3 is imported on first use: the LiteRT path of a cold classify
with an inline image never needs it, and its import costs about 250 ms."""

from __future__ import annotations

from functools import cache
from typing import TYPE_CHECKING, Any

from sfn_inference.adapters.aws_errors import s3_error
from sfn_inference.core.ports import ListedKey, ObjectInfo

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client


@cache
def boto3_client(service: str) -> Any:
    """One client per service per execution environment, created on first use."""
    import boto3  # noqa: PLC0415 - kept off the cold-start path on purpose

    return boto3.client(service)  # type: ignore[call-overload]


class S3ObjectStore:
    def __init__(self, client: S3Client | None = None) -> None:
        self._client = client

    @property
    def client(self) -> S3Client:
        if self._client is None:
            self._client = boto3_client("s3")
        return self._client

    def head(self, bucket: str, key: str) -> ObjectInfo:
        try:
            r = self.client.head_object(Bucket=bucket, Key=key)
        except Exception as exc:
            raise (s3_error(exc, bucket, key) or exc) from None
        return ObjectInfo(r["ContentLength"], r.get("ETag", "").strip('"') or None, r.get("ContentType"))

    def get(self, bucket: str, key: str, first_bytes: int | None = None) -> bytes:
        extra: dict[str, Any] = {}
        if first_bytes is not None:
            extra["Range"] = f"bytes=0-{first_bytes - 1}"
        try:
            r = self.client.get_object(Bucket=bucket, Key=key, **extra)
        except Exception as exc:
            raise (s3_error(exc, bucket, key) or exc) from None
        body: bytes = r["Body"].read()
        return body

    def put(self, bucket: str, key: str, body: bytes, content_type: str) -> None:
        self.client.put_object(Bucket=bucket, Key=key, Body=body, ContentType=content_type)

    def list_keys(self, bucket: str, prefix: str) -> list[ListedKey]:
        listed: list[ListedKey] = []
        try:
            for page in self.client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
                listed += [ListedKey(o["Key"], o["LastModified"]) for o in page.get("Contents", [])]
        except Exception as exc:
            raise (s3_error(exc, bucket, prefix) or exc) from None
        return listed

    def has_objects(self, bucket: str, prefix: str) -> bool:
        """Whether anything is listed under ``prefix`` (one ListObjectsV2 call of one key)."""
        try:
            r = self.client.list_objects_v2(Bucket=bucket, Prefix=prefix, MaxKeys=1)
        except Exception as exc:
            raise (s3_error(exc, bucket, prefix) or exc) from None
        return bool(r.get("KeyCount", 0))
