"""A batch request, checked before the Distributed Map runs: a bad one fails by name, an empty prefix succeeds.

The batch state machine's first state sends the execution input here as it came
(any JSON value) and gets back the request with its defaults, or an
:class:`InvalidEventError` that says what to fix. Without this step a malformed input
failed inside the Map as ``States.Runtime`` (``'Contents'``, a ``TypeError``), and
``batch_size: 0`` ran as 100. The checks are the ones AWS would make later, with less
helpful words: the bucket must be the stack's own and the prefix one its roles may
read (anything else is ``AccessDenied`` on AWS, and silently works on the local cloud).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime
from typing import Any, Protocol

from pydantic import BaseModel, ConfigDict, Field, StrictFloat, StrictInt, StrictStr, ValidationError

from sfn_inference.core.errors import InvalidEventError
from sfn_inference.core.messages import json_type
from sfn_inference.core.ports import ObjectStore
from sfn_inference.core.report import summarise_rows
from sfn_inference.core.settings import BatchConfig

CHECK_MODE = "check"


class PrefixListing(ObjectStore, Protocol):
    def has_objects(self, bucket: str, prefix: str) -> bool: ...


class BatchRequest(BaseModel):
    """What a user may send; unknown fields are refused, so a typo is not silently a default."""

    model_config = ConfigDict(extra="forbid")

    bucket: StrictStr = Field(min_length=1)
    prefix: StrictStr = ""
    batch_size: StrictInt | None = Field(default=None, ge=1, le=256)
    tolerated_failure_percentage: StrictInt | StrictFloat | None = Field(default=None, ge=0, le=100)
    max_concurrency: StrictInt | None = Field(default=None, ge=1, le=10_000)
    confidence_threshold: StrictInt | StrictFloat | None = Field(default=None, gt=0, le=1)


class CheckedRequest(BaseModel):
    """The request with every default filled in: what the Map and the report read."""

    bucket: str
    prefix: str
    batch_size: int
    tolerated_failure_percentage: float
    max_concurrency: int
    confidence_threshold: float | None
    results_prefix: str
    #: True when nothing is listed under the prefix: the Map is skipped and the report says so.
    empty: bool
    #: The execution's start: the report's fresh listing ignores objects that arrived after it.
    started_at: datetime | None = None


def example(config: BatchConfig) -> str:
    return json.dumps({"bucket": config.bucket, "prefix": config.prefixes[-1], "batch_size": config.batch_size})


def check_request(
    raw: Any, execution: str, config: BatchConfig, store: PrefixListing, started_at: datetime | None = None
) -> CheckedRequest:
    """The request with its defaults, or an InvalidEventError that says what to send instead."""
    if not isinstance(raw, Mapping):
        raise InvalidEventError(
            f"a batch request is a JSON object such as {example(config)}; got a JSON {json_type(raw)}"
        )
    try:
        request = BatchRequest.model_validate(raw)
    except ValidationError as exc:
        raise InvalidEventError(f"invalid batch request: {_problems(exc)}; for example {example(config)}") from None
    if request.bucket != config.bucket:
        raise InvalidEventError(
            f"bucket {request.bucket!r} is not this stack's: the batch reads only from {config.bucket!r}"
        )
    if not request.prefix.startswith(config.prefixes):
        raise InvalidEventError(
            f"prefix {request.prefix!r} is outside what the batch may read: "
            f"use a prefix that starts with {' or '.join(config.prefixes)}"
        )
    return CheckedRequest(
        bucket=request.bucket,
        prefix=request.prefix,
        batch_size=config.batch_size if request.batch_size is None else request.batch_size,
        tolerated_failure_percentage=_or(request.tolerated_failure_percentage, config.tolerated_failure_percentage),
        max_concurrency=config.max_concurrency if request.max_concurrency is None else request.max_concurrency,
        confidence_threshold=request.confidence_threshold,
        results_prefix=f"results/{execution}/",
        empty=not store.has_objects(request.bucket, request.prefix),
        started_at=started_at,
    )


def _or(value: float | None, default: float) -> float:
    return default if value is None else float(value)


def _problems(exc: ValidationError) -> str:
    """Each bad field with the value it had: "batch_size: Input should be a valid integer (got 'ten')"."""
    parts = []
    for error in exc.errors()[:5]:
        field = ".".join(str(p) for p in error["loc"]) or "request"
        got = "" if error["type"] == "missing" else f" (got {json.dumps(error['input'])[:60]})"
        parts.append(f"{field}: {error['msg']}{got}")
    return "; ".join(parts)


def write_empty_report(request: CheckedRequest, store: ObjectStore) -> dict[str, Any]:
    """The report of a prefix with nothing under it: the same two files and summary, with 0 items."""
    items_key = f"{request.results_prefix}items.jsonl"
    store.put(request.bucket, items_key, b"", "application/jsonlines")
    summary = {
        "bucket": request.bucket,
        "prefix": request.prefix,
        "map_run_arn": None,
        "items_key": items_key,
        **summarise_rows([]),
        "note": f"no objects under s3://{request.bucket}/{request.prefix}: nothing to classify",
    }
    body = json.dumps(summary, indent=2).encode()
    store.put(request.bucket, f"{request.results_prefix}summary.json", body, "application/json")
    return summary
