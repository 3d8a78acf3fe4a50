"""capture_compactor's dependencies: the object store the capture files go to."""

from __future__ import annotations

from dataclasses import dataclass

from sfn_inference.adapters.s3 import S3ObjectStore
from sfn_inference.core.ports import ObjectStore


@dataclass
class CaptureCompactor:
    store: ObjectStore


def build(*, store: ObjectStore | None = None) -> CaptureCompactor:
    return CaptureCompactor(store or S3ObjectStore())
