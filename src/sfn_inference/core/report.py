"""The report stage: after a batch, one row per listed key (``items.jsonl``) and the counts (``summary.json``).

The Distributed Map's ResultWriter leaves a manifest and result files; a child
that failed as a whole still gives every key of its batch an ``error`` row, so no
listed key goes missing. As an independent check, the report lists the prefix
again: a key that was there before the batch started and has no row fails the
report with :class:`BatchIncompleteError`, after the rows it has are written.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel, ConfigDict

from sfn_inference.core.errors import BatchIncompleteError, MalformedManifestError
from sfn_inference.core.messages import OUTCOMES, ListedObject, ResultRow
from sfn_inference.core.ports import ListedKey, ObjectStore

#: Missing keys named in summary.json and in the error's message (the count is always whole).
MISSING_SHOWN = 20


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
            rows.setdefault(
                listed.Key, ResultRow(key=listed.Key, etag=listed.etag, outcome="error", error=error, cause=cause[:500])
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
    #: The batch execution's start ($$.Execution.StartTime): objects written later need no row.
    started_at: datetime | None = None


def missing_keys(rows: Sequence[ResultRow], listed: Iterable[ListedKey], started_at: datetime | None) -> list[str]:
    """Keys a fresh listing shows, there before the batch started, that have no row.

    S3's LastModified has whole seconds, so an object written in the batch's first
    second may or may not have been listed: it is given the benefit of the doubt.
    """
    have = {r.key for r in rows}
    cutoff = None
    if started_at is not None:
        aware = started_at if started_at.tzinfo else started_at.replace(tzinfo=UTC)
        cutoff = aware.replace(microsecond=0)
    return sorted(k.key for k in listed if k.key not in have and (cutoff is None or k.last_modified < cutoff))


def write_report(request: ReportRequest, store: ObjectStore) -> dict[str, Any]:
    """Turn the ResultWriter's files into ``items.jsonl`` (one row per key) and ``summary.json``."""
    details = request.map.ResultWriterDetails
    try:
        manifest = json.loads(store.get(details.Bucket, details.Key))
        results: list[Mapping[str, Any]] = []
        for status in ("SUCCEEDED", "FAILED", "PENDING"):
            for entry in manifest.get("ResultFiles", {}).get(status, []):
                results += json.loads(store.get(details.Bucket, entry["Key"]))
        rows = rows_from_result_files(results)
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        # The ResultWriter's files are not what it writes (JSON, a manifest of result files,
        # each a list of child results): name it, rather than a bare KeyError from inside.
        raise MalformedManifestError(
            f"s3://{details.Bucket}/{details.Key} or a result file it lists is malformed: {type(exc).__name__}: {exc}"
        ) from None
    missing = missing_keys(rows, store.list_keys(request.bucket, request.prefix), request.started_at)
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
    if missing:
        summary["missing"] = {"count": len(missing), "keys": missing[:MISSING_SHOWN]}
    store.put(
        request.bucket,
        f"{request.results_prefix}summary.json",
        json.dumps(summary, indent=2).encode(),
        "application/json",
    )
    if missing:
        shown = ", ".join(missing[:MISSING_SHOWN]) + (", ..." if len(missing) > MISSING_SHOWN else "")
        raise BatchIncompleteError(
            f"{len(missing)} key(s) under s3://{request.bucket}/{request.prefix} have no row "
            f"({len(rows)} rows written to {items_key}): {shown}"
        )
    return summary
