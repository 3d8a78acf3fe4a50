"""Object storage behind a small interface: S3 in Lambda, a dict in unit tests.

boto3 is imported lazily: its import costs about 250 ms, and the LiteRT path
of a cold ``classify`` with an inline image never needs it.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from functools import cache
from typing import TYPE_CHECKING, Any, Literal, Protocol

from sfn_inference.errors import ObjectNotFoundError

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client


@dataclass(frozen=True)
class ObjectInfo:
    size: int
    etag: str | None
    content_type: str | None


class ObjectStore(Protocol):
    def head(self, bucket: str, key: str) -> ObjectInfo: ...

    def get(self, bucket: str, key: str, first_bytes: int | None = None) -> bytes: ...

    def put(self, bucket: str, key: str, body: bytes, content_type: str) -> None: ...


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
        with _not_found(bucket, key):
            r = self.client.head_object(Bucket=bucket, Key=key)
        return ObjectInfo(r["ContentLength"], r.get("ETag", "").strip('"') or None, r.get("ContentType"))

    def get(self, bucket: str, key: str, first_bytes: int | None = None) -> bytes:
        extra: dict[str, Any] = {}
        if first_bytes is not None:
            extra["Range"] = f"bytes=0-{first_bytes - 1}"
        with _not_found(bucket, key):
            r = self.client.get_object(Bucket=bucket, Key=key, **extra)
        body: bytes = r["Body"].read()
        return body

    def put(self, bucket: str, key: str, body: bytes, content_type: str) -> None:
        self.client.put_object(Bucket=bucket, Key=key, Body=body, ContentType=content_type)


class _not_found:
    """Turn S3's 404 (NoSuchKey, NoSuchBucket, or a bare 404 on HEAD) into ObjectNotFoundError."""

    def __init__(self, bucket: str, key: str) -> None:
        self.where = f"s3://{bucket}/{key}"

    def __enter__(self) -> None:
        return None

    def __exit__(self, exc_type: Any, exc: BaseException | None, tb: Any) -> Literal[False]:
        response = getattr(exc, "response", None)
        if not isinstance(response, dict):
            return False
        code = str(response.get("Error", {}).get("Code", ""))
        if code in {"NoSuchKey", "NoSuchBucket", "404", "NotFound"}:
            raise ObjectNotFoundError(f"{self.where} does not exist ({code})") from None
        return False


class InMemoryObjectStore:
    """A fake store for unit tests and local tools: same contract, no network."""

    def __init__(self) -> None:
        self.objects: dict[tuple[str, str], tuple[bytes, str]] = {}
        self._lock = threading.Lock()

    def head(self, bucket: str, key: str) -> ObjectInfo:
        body, content_type = self._lookup(bucket, key)
        return ObjectInfo(len(body), None, content_type)

    def get(self, bucket: str, key: str, first_bytes: int | None = None) -> bytes:
        body, _ = self._lookup(bucket, key)
        return body if first_bytes is None else body[:first_bytes]

    def put(self, bucket: str, key: str, body: bytes, content_type: str) -> None:
        with self._lock:
            self.objects[(bucket, key)] = (body, content_type)

    def _lookup(self, bucket: str, key: str) -> tuple[bytes, str]:
        try:
            return self.objects[(bucket, key)]
        except KeyError:
            raise ObjectNotFoundError(f"s3://{bucket}/{key} does not exist") from None
