"""report's dependencies: the object store, and the batch settings its request check reads."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from sfn_inference.adapters.s3 import S3ObjectStore
from sfn_inference.core.batch_request import PrefixListing
from sfn_inference.core.settings import BatchConfig


@dataclass
class Report:
    store: PrefixListing
    settings: BatchConfig


def build(*, store: PrefixListing | None = None, env: Mapping[str, str] | None = None) -> Report:
    return Report(store or S3ObjectStore(), BatchConfig.from_env(env))
