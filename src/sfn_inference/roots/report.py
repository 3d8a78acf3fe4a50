"""report's dependencies: the object store."""

from __future__ import annotations

from dataclasses import dataclass

from sfn_inference.adapters.s3 import S3ObjectStore
from sfn_inference.core.ports import ObjectStore


@dataclass
class Report:
    store: ObjectStore


def build(*, store: ObjectStore | None = None) -> Report:
    return Report(store or S3ObjectStore())
