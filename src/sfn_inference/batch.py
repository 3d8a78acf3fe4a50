"""The pure core of batch mode: a Distributed Map hands each child a batch of S3 keys.

Every key ends as exactly one :class:`ResultRow`: ``confident``, ``low_confidence``
or ``error`` (with the error's name). A bad object is an outcome of that item,
never the end of its batch. Between the child's states the batch travels as
``{"bucket", "items": [...]}``, where an item is either still in flight (a
payload) or already settled (a row).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from sfn_inference.errors import SfnInferenceError
from sfn_inference.payload import MAX_INLINE_BYTES, ClassifiedImage, ImagePayload, ObjectRef, parse_model
from sfn_inference.pipeline import load_image_bytes, serialize_object
from sfn_inference.predictors import Predictor, top
from sfn_inference.store import ObjectStore

Outcome = Literal["confident", "low_confidence", "error"]
OUTCOMES: tuple[Outcome, ...] = ("confident", "low_confidence", "error")


class ListedObject(BaseModel):
    """One item of the ItemReader's ``s3:listObjectsV2`` listing."""

    model_config = ConfigDict(extra="ignore")

    Key: str
    Etag: str | None = None
    Size: int | None = None


class ResultRow(BaseModel):
    key: str
    etag: str | None = None
    outcome: Outcome
    label: str | None = None
    confidence: float | None = None
    error: str | None = None
    cause: str | None = None


class BatchEvent(BaseModel):
    """What travels between the child workflow's states."""

    bucket: str = Field(min_length=1)
    items: list[dict[str, Any]]
    confidence_threshold: float | None = Field(default=None, gt=0.0, le=1.0)


def error_row(key: str, etag: str | None, exc: BaseException) -> ResultRow:
    return ResultRow(key=key, etag=etag, outcome="error", error=type(exc).__name__, cause=str(exc))


def is_settled(item: Mapping[str, Any]) -> bool:
    return "outcome" in item


def parse_batch(event: Any) -> BatchEvent:
    return parse_model(BatchEvent, event)


def serialize_batch(event: BatchEvent, store: ObjectStore) -> list[dict[str, Any]]:
    """Fetch each object; inline images while the whole batch stays under the state limit."""
    budget = MAX_INLINE_BYTES
    out: list[dict[str, Any]] = []
    for raw in event.items:
        listed = parse_model(ListedObject, raw)
        etag = (listed.Etag or "").strip('"') or None
        try:
            payload = serialize_object(ObjectRef(bucket=event.bucket, key=listed.Key, etag=etag), store)
            size = payload.size_bytes or 0
            if payload.transport == "inline" and size * 4 // 3 > budget:
                payload = payload.model_copy(update={"transport": "reference", "image_data": None})
            elif payload.transport == "inline":
                budget -= size * 4 // 3
            out.append(payload.model_dump(exclude_none=True))
        except SfnInferenceError as exc:
            out.append(error_row(listed.Key, etag, exc).model_dump(exclude_none=True))
    return out


def classify_batch(event: BatchEvent, store: ObjectStore, predictor: Predictor) -> list[dict[str, Any]]:
    """One predictor call for every image of the batch that can be read and decoded."""
    out: list[dict[str, Any] | None] = [None] * len(event.items)
    pending: list[tuple[int, ImagePayload, bytes]] = []
    for i, item in enumerate(event.items):
        if is_settled(item):
            out[i] = item
            continue
        try:
            payload = parse_model(ImagePayload, item)
            pending.append((i, payload, load_image_bytes(payload, store)))
        except SfnInferenceError as exc:
            out[i] = error_row(str(item.get("s3_key", "?")), item.get("etag"), exc).model_dump(exclude_none=True)
    results = predictor.predict_each([data for _, _, data in pending]) if pending else []
    for (i, payload, _), result in zip(pending, results, strict=True):
        if isinstance(result, SfnInferenceError):
            out[i] = error_row(payload.s3_key, payload.etag, result).model_dump(exclude_none=True)
            continue
        prediction = top(result, predictor.labels)
        classified = ClassifiedImage(
            **payload.model_dump(exclude={"inferences", "image_data"}),
            inferences=prediction.probabilities,
            label=prediction.label,
            confidence=prediction.confidence,
        )
        out[i] = classified.model_dump(exclude_none=True)  # the image bytes stay behind: state is small
    return [item for item in out if item is not None]


def filter_batch(event: BatchEvent, default_threshold: float) -> list[dict[str, Any]]:
    """Settle every item: confident or low_confidence by the threshold; errors pass through."""
    threshold = event.confidence_threshold or default_threshold
    rows = []
    for item in event.items:
        if is_settled(item):
            rows.append(parse_model(ResultRow, item))
            continue
        result = parse_model(ClassifiedImage, item)
        outcome: Outcome = "confident" if result.confidence >= threshold else "low_confidence"
        rows.append(
            ResultRow(
                key=result.s3_key, etag=result.etag, outcome=outcome, label=result.label, confidence=result.confidence
            )
        )
    return [r.model_dump() for r in rows]


def summarise_rows(rows: Sequence[ResultRow]) -> dict[str, Any]:
    counts = Counter(r.outcome for r in rows)
    return {
        "items": len(rows),
        "outcomes": {o: counts.get(o, 0) for o in OUTCOMES},
        "labels": dict(sorted(Counter(r.label for r in rows if r.outcome == "confident" and r.label).items())),
        "errors": dict(sorted(Counter(r.error for r in rows if r.error).items())),
    }


def rows_from_result_files(files: Iterable[Mapping[str, Any]]) -> list[ResultRow]:
    """Rows from the ResultWriter's SUCCEEDED/FAILED/PENDING files (lists of child results).

    A child that succeeded returns its rows; a child that failed as a whole (its
    Lambda crashed or timed out past the retries) gives every key of its batch an
    ``error`` row with the child's error, so no listed key goes missing.
    """
    import json  # noqa: PLC0415

    rows: dict[str, ResultRow] = {}
    for result in files:
        if result.get("Status") == "SUCCEEDED":
            output = json.loads(result.get("Output") or "{}")
            for row in output.get("rows", []):
                parsed = ResultRow.model_validate(row)
                rows.setdefault(parsed.key, parsed)
            continue
        batch = json.loads(result.get("Input") or "{}")
        error = result.get("Error") or "States.TaskFailed"
        cause = result.get("Cause") or f"child execution {result.get('Status', 'FAILED').lower()}"
        for item in batch.get("Items", []):
            listed = ListedObject.model_validate(item)
            etag = (listed.Etag or "").strip('"') or None
            rows.setdefault(
                listed.Key, ResultRow(key=listed.Key, etag=etag, outcome="error", error=error, cause=cause[:500])
            )
    return sorted(rows.values(), key=lambda r: r.key)


class ResultWriterDetails(BaseModel):
    Bucket: str
    Key: str


class MapOutput(BaseModel):
    model_config = ConfigDict(extra="ignore")

    MapRunArn: str | None = None
    ResultWriterDetails: ResultWriterDetails


class ReportRequest(BaseModel):
    model_config = ConfigDict(extra="ignore")

    bucket: str
    prefix: str = ""
    results_prefix: str
    map: MapOutput


def write_report(request: ReportRequest, store: ObjectStore) -> dict[str, Any]:
    """Turn the ResultWriter's files into ``items.jsonl`` (one row per key) and ``summary.json``."""
    import json  # noqa: PLC0415

    details = request.map.ResultWriterDetails
    manifest = json.loads(store.get(details.Bucket, details.Key))
    results: list[Mapping[str, Any]] = []
    for status in ("SUCCEEDED", "FAILED", "PENDING"):
        for entry in manifest.get("ResultFiles", {}).get(status, []):
            results += json.loads(store.get(details.Bucket, entry["Key"]))
    rows = rows_from_result_files(results)
    items_key = f"{request.results_prefix}items.jsonl"
    body = "".join(row.model_dump_json() + "\n" for row in rows).encode()
    store.put(request.bucket, items_key, body, "application/jsonlines")
    summary = {
        "bucket": request.bucket,
        "prefix": request.prefix,
        "map_run_arn": request.map.MapRunArn,
        "items_key": items_key,
        **summarise_rows(rows),
    }
    store.put(
        request.bucket,
        f"{request.results_prefix}summary.json",
        json.dumps(summary, indent=2).encode(),
        "application/json",
    )
    return summary
