"""An in-memory object store: the fake that unit tests and the artifact check compose with."""

from __future__ import annotations

import threading
from datetime import UTC, datetime

from sfn_inference.core.errors import ObjectNotFoundError
from sfn_inference.core.ports import ListedKey, ObjectInfo


class InMemoryObjectStore:
    def __init__(self) -> None:
        self.objects: dict[tuple[str, str], tuple[bytes, str]] = {}
        self.modified: dict[tuple[str, str], datetime] = {}
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
            self.modified[(bucket, key)] = datetime.now(UTC)

    def list_keys(self, bucket: str, prefix: str) -> list[ListedKey]:
        with self._lock:
            found = [(k, self.modified[(b, k)]) for (b, k) in self.objects if b == bucket and k.startswith(prefix)]
        return [ListedKey(key, modified) for key, modified in sorted(found)]

    def has_objects(self, bucket: str, prefix: str) -> bool:
        with self._lock:
            return any(b == bucket and k.startswith(prefix) for b, k in self.objects)

    def _lookup(self, bucket: str, key: str) -> tuple[bytes, str]:
        try:
            return self.objects[(bucket, key)]
        except KeyError:
            raise ObjectNotFoundError(f"s3://{bucket}/{key} does not exist") from None
