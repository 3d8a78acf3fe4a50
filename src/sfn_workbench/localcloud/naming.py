"""Execution names derived from the object, so a duplicate event cannot start a second run.

Step Functions keeps execution names unique per state machine (for 90 days on
Standard): starting a second execution with a used name fails with
``ExecutionAlreadyExists``. Naming each run after the object version that caused
it (bucket, key, ETag, S3 sequencer) makes at-least-once S3 delivery idempotent.
"""

from __future__ import annotations

import hashlib
import re

MAX_NAME = 80
_UNSAFE = re.compile(r"[^A-Za-z0-9_-]+")


def execution_name(bucket: str, key: str, *, etag: str | None = None, sequencer: str | None = None) -> str:
    """``<readable key stem>-<sha256 of the identity>``: at most 80 characters of [A-Za-z0-9_-]."""
    identity = "\0".join([bucket, key, etag or "", sequencer or ""])
    digest = hashlib.sha256(identity.encode()).hexdigest()[:20]
    stem = _UNSAFE.sub("-", key.rsplit("/", 1)[-1].rsplit(".", 1)[0]).strip("-") or "object"
    return f"{stem[: MAX_NAME - len(digest) - 1]}-{digest}"
