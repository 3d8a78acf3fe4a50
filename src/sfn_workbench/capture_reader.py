"""Load SageMaker Model Monitor data-capture files into a DataFrame, and summarise them.

Data capture writes one JSON record per request, many records per file, under::

    {DestinationS3Uri}/{endpoint}/{variant}/yyyy/mm/dd/hh/{MM-SS-mmm}-{uuid}.jsonl

:func:`load_captures` reads every line of every ``.jsonl`` file under an
``s3://bucket/prefix`` or a local directory. The course version read only the
first line of each file, so every request after the first in a flush was lost.
Lines that cannot be used are never dropped silently: each one is listed in
``df.attrs["skipped"]`` as a :class:`SkippedLine` and logged.

The endpoint, the variant and the hour come from the path, counted from its
end, so the source may point at any level: the capture root, one endpoint,
one variant or one day.
"""

from __future__ import annotations

import base64
import binascii
import csv
import io
import json
import logging
import math
import os
from collections.abc import Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any, NamedTuple, TypeAlias

import jsonlines
import pandas as pd

from sfn_inference.adapters.aws_errors import error_code
from sfn_inference.adapters.s3 import S3ObjectStore
from sfn_inference.core.errors import ObjectNotFoundError, SfnInferenceError
from sfn_inference.datacapture.config import DataCaptureConfig
from sfn_inference.datacapture.writer import build_record

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

logger = logging.getLogger(__name__)

#: Columns of every frame :func:`load_captures` returns (``input_bytes`` is appended on request).
COLUMNS = [
    "time",
    "event_id",
    "inference_id",
    "endpoint",
    "variant",
    "label",
    "confidence",
    "probabilities",
    "input_content_type",
    "source_file",
    "line_no",
]
INPUT_BYTES = "input_bytes"

#: A capture file is flushed a little after the requests in it, so a file in hour
#: directory ``hh`` may hold records from just before ``hh:00``. Files within this
#: margin of the window are read too; records are then filtered on inferenceTime.
FLUSH_MARGIN = timedelta(minutes=10)
#: Parallel GETs for S3 sources: capture files are small, so latency dominates.
S3_READ_WORKERS = 8
#: Individual warnings before the rest of the skipped lines are only counted.
MAX_LOGGED_SKIPS = 20

TimeLike: TypeAlias = datetime | str | pd.Timestamp


class CaptureSourceError(SfnInferenceError):
    """The capture source does not exist, is not a directory or s3:// URI, or cannot be listed."""


class SkippedLine(NamedTuple):
    """A line (or, with ``line_no`` 0, a whole file) that could not be loaded, and why."""

    file: str
    line_no: int
    reason: str


class CapturePath(NamedTuple):
    """What a capture file's path says: endpoint, variant and the hour directory."""

    endpoint: str
    variant: str
    hour: datetime


def parse_capture_path(path: str) -> CapturePath | None:
    """``.../{endpoint}/{variant}/yyyy/mm/dd/hh/{file}.jsonl`` parsed from the end; None if it does not fit."""
    parts = PurePosixPath(path.replace(os.sep, "/")).parts
    if len(parts) < 7:
        return None
    endpoint, variant, yyyy, mm, dd, hh = parts[-7:-1]
    if not (len(yyyy) == 4 and all(len(p) == 2 for p in (mm, dd, hh))):
        return None
    if not all(p.isdigit() for p in (yyyy, mm, dd, hh)):
        return None
    try:
        hour = datetime(int(yyyy), int(mm), int(dd), int(hh), tzinfo=UTC)
    except ValueError:
        return None
    return CapturePath(endpoint, variant, hour)


def capture_record(
    when: datetime,
    *,
    input_data: bytes | None,
    input_content_type: str = "image/png",
    output: Sequence[float] | None,
    output_content_type: str = "application/json",
    event_id: str | None = None,
    inference_id: str | None = None,
) -> dict[str, Any]:
    """One record as an endpoint declaring JSON and CSV content types writes it (for fixtures).

    The record itself comes from the writer, :func:`sfn_inference.datacapture.writer.build_record`.
    Pass ``input_data`` or ``output`` as None for a record captured with only the
    other side (CaptureOptions ``Output`` only, or ``Input`` only).
    """
    sides = (("Input", input_data), ("Output", output))
    config = DataCaptureConfig.parse(
        {
            "InitialSamplingPercentage": 100,
            "DestinationS3Uri": "s3://fixtures/captures",
            "CaptureOptions": [{"CaptureMode": mode} for mode, side in sides if side is not None],
            "CaptureContentTypeHeader": {"CsvContentTypes": ["text/csv"], "JsonContentTypes": ["application/json"]},
        }
    )
    values = list(output or [])
    body = ",".join(map(repr, values)) if _is_csv(output_content_type) else json.dumps(values)
    return build_record(
        config,
        input_body=input_data or b"",
        input_content_type=input_content_type,
        output_body=body.encode(),
        output_content_type=output_content_type,
        inference_time=when,
        event_id=event_id,
        inference_id=inference_id,
    )


def load_captures(
    source: str | Path,
    *,
    start: TimeLike | None = None,
    end: TimeLike | None = None,
    labels: Sequence[str] | None = None,
    include_input: bool = False,
    s3_client: S3Client | None = None,
) -> pd.DataFrame:
    """Every captured inference under ``source`` with ``start <= inferenceTime < end``, oldest first.

    ``source`` is an ``s3://bucket/prefix`` URI (listed with boto3, which honours
    ``AWS_ENDPOINT_URL``, so the local cloud works too) or a local directory.
    ``label`` is ``labels[argmax]`` when ``labels`` is given, else the argmax index
    as a string; it, ``confidence`` and ``probabilities`` are empty for records
    captured without output. Lines that cannot be used are skipped, logged, and
    listed in ``df.attrs["skipped"]`` as :class:`SkippedLine` tuples.
    """
    window = _Window(_utc(start), _utc(end))
    if window.start is not None and window.end is not None and window.start >= window.end:
        raise ValueError(f"empty time window: start {window.start} is not before end {window.end}")
    files = (
        _S3Files(str(source), s3_client) if str(source).startswith("s3://") else _LocalFiles(Path(source).expanduser())
    )
    wanted = [name for name in files.list() if window.may_hold(parse_capture_path(name))]
    parser = _Parser(window, list(labels) if labels is not None else None, include_input)
    for name, body in files.read(wanted):
        parser.parse_file(name, body)
    frame = _frame(parser.rows, include_input)
    frame.attrs["skipped"] = parser.skipped
    _log_skipped(parser.skipped)
    return frame


def label_distribution(df: pd.DataFrame) -> pd.Series:
    """Share of each predicted label among the records that have an output."""
    shares: pd.Series = df["label"].dropna().value_counts(normalize=True).sort_index()
    shares.name = "share"
    shares.index.name = "label"
    return shares


def drift(df: pd.DataFrame, reference_distribution: Mapping[str, float]) -> pd.DataFrame:
    """Observed vs reference share per label, with the distances in ``attrs``.

    Columns: ``count``, ``observed``, ``reference``, ``difference`` (observed -
    reference) and ``chi_square`` (each label's term). ``attrs`` holds
    ``total_variation`` (half the L1 distance: 0 is identical, 1 disjoint),
    ``chi_square`` (Pearson's statistic against the reference shares), ``dof``
    and ``n``. A label the reference gives no share makes chi-square infinite.
    """
    reference = pd.Series({str(k): float(v) for k, v in reference_distribution.items()}, dtype="float64")
    if reference.empty or (reference < 0).any() or not math.isfinite(reference.sum()) or reference.sum() <= 0:
        raise ValueError("the reference distribution needs non-negative shares with a positive sum")
    reference /= reference.sum()
    counts = df["label"].dropna().astype(str).value_counts()
    order = list(reference.index) + sorted(set(counts.index) - set(reference.index))
    table = pd.DataFrame(index=pd.Index(order, name="label"))
    table["count"] = counts.reindex(order, fill_value=0).astype("int64")
    table["reference"] = reference.reindex(order, fill_value=0.0)
    n = int(table["count"].sum())
    table["observed"] = table["count"] / n if n else math.nan
    table["difference"] = table["observed"] - table["reference"]
    expected = table["reference"] * n
    with_expected = expected > 0
    terms = pd.Series(math.inf, index=table.index)
    terms[with_expected] = (table["count"][with_expected] - expected[with_expected]) ** 2 / expected[with_expected]
    terms[(~with_expected) & (table["count"] == 0)] = 0.0
    table["chi_square"] = terms if n else math.nan
    table = table[["count", "observed", "reference", "difference", "chi_square"]]
    table.attrs.update(
        total_variation=float(table["difference"].abs().sum() / 2) if n else math.nan,
        chi_square=float(terms.sum()) if n else math.nan,
        dof=len(order) - 1,
        n=n,
    )
    return table


def low_confidence_share(df: pd.DataFrame, threshold: float) -> float:
    """Share of records with an output whose confidence is below ``threshold`` (the filter's rule); NaN if none."""
    confidence = df["confidence"].dropna()
    return float((confidence < threshold).mean()) if len(confidence) else math.nan


# --- sources -------------------------------------------------------------------------------------


class _LocalFiles:
    def __init__(self, root: Path) -> None:
        if not root.is_dir():
            raise CaptureSourceError(f"capture source {root} is not a directory")
        self.root = root

    def list(self) -> list[str]:
        return sorted(str(p) for p in self.root.rglob("*.jsonl") if p.is_file())

    def read(self, names: Sequence[str]) -> Iterator[tuple[str, bytes | None]]:
        for name in names:
            try:
                yield name, Path(name).read_bytes()
            except FileNotFoundError:  # removed between listing and reading
                yield name, None


class _S3Files:
    """An ``s3://bucket/prefix`` source: listed with the paginator, read through the S3 adapter."""

    def __init__(self, uri: str, client: S3Client | None) -> None:
        bucket, _, prefix = uri.removeprefix("s3://").partition("/")
        if not bucket:
            raise CaptureSourceError(f"{uri!r} names no bucket; expected s3://bucket/prefix")
        self.bucket = bucket
        # A prefix is a directory: s3://b/captures must not also match captures-old/.
        self.prefix = prefix if not prefix or prefix.endswith("/") else prefix + "/"
        if client is None:
            import boto3  # noqa: PLC0415 - only S3 sources pay for it

            # A fresh client: it reads AWS_ENDPOINT_URL and credentials as they are now.
            client = boto3.client("s3")
        self.client = client
        self.store = S3ObjectStore(client)

    def list(self) -> list[str]:
        keys: list[str] = []
        try:
            for page in self.client.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=self.prefix):
                keys.extend(o["Key"] for o in page.get("Contents", []) if o["Key"].endswith(".jsonl"))
        except Exception as exc:
            raise _source_error(f"list s3://{self.bucket}/{self.prefix}", exc) from exc
        return [f"s3://{self.bucket}/{key}" for key in sorted(keys)]

    def read(self, names: Sequence[str]) -> Iterator[tuple[str, bytes | None]]:
        # In chunks, so a large window does not hold every file's body in memory at once.
        chunk = S3_READ_WORKERS * 8
        with ThreadPoolExecutor(max_workers=S3_READ_WORKERS) as pool:
            for i in range(0, len(names), chunk):
                batch = names[i : i + chunk]
                yield from zip(batch, pool.map(self._get, batch), strict=True)

    def _get(self, name: str) -> bytes | None:
        try:
            return self.store.get(self.bucket, name.removeprefix(f"s3://{self.bucket}/"))
        except ObjectNotFoundError:
            return None  # deleted between listing and reading
        except Exception as exc:
            raise _source_error(f"read {name}", exc) from exc


def _source_error(action: str, exc: BaseException) -> CaptureSourceError:
    code = error_code(exc)
    return CaptureSourceError(f"cannot {action}: {code + ': ' if code else ''}{exc}")


# --- parsing -------------------------------------------------------------------------------------


class _BadRecord(Exception):
    """A line that is valid JSON but not a usable capture record; the message is the reason."""


@dataclass(frozen=True)
class _Window:
    start: pd.Timestamp | None
    end: pd.Timestamp | None

    def may_hold(self, path: CapturePath | None) -> bool:
        """Whether a file's hour directory can hold records in the window (unknown layout: read it)."""
        if path is None:
            return True
        hour = pd.Timestamp(path.hour)
        if self.end is not None and hour - FLUSH_MARGIN >= self.end:
            return False
        return self.start is None or hour + timedelta(hours=1) > self.start

    def holds(self, time: pd.Timestamp) -> bool:
        return (self.start is None or time >= self.start) and (self.end is None or time < self.end)


class _Lines:
    """The file's lines, counting them: jsonlines does not say which line a good record came from."""

    def __init__(self, body: bytes) -> None:
        self._lines = iter(io.BytesIO(body))
        self.number = 0

    def __iter__(self) -> _Lines:
        return self

    def __next__(self) -> bytes:
        line = next(self._lines)
        self.number += 1
        return line


class _Parser:
    def __init__(self, window: _Window, labels: list[str] | None, include_input: bool) -> None:
        self.window = window
        self.labels = labels
        self.include_input = include_input
        self.rows: list[dict[str, Any]] = []
        self.skipped: list[SkippedLine] = []

    def parse_file(self, name: str, body: bytes | None) -> None:
        if body is None:
            self.skipped.append(SkippedLine(name, 0, "file disappeared between listing and reading"))
            return
        path = parse_capture_path(name)
        # The line a crashed or still-uploading writer left behind has no newline after it.
        last_line = body.count(b"\n") + 1 if body and not body.endswith(b"\n") else None
        lines = _Lines(body)
        reader = jsonlines.Reader(lines)
        while True:
            try:
                record = reader.read(type=dict, skip_empty=True)
            except EOFError:
                break
            except jsonlines.InvalidLineError as exc:
                reason = str(exc).removesuffix(f" (line {exc.lineno})")
                if exc.lineno == last_line:
                    reason = f"truncated last line: {reason}"
                self.skipped.append(SkippedLine(name, exc.lineno, reason))
                continue
            try:
                row = self._row(record)
            except _BadRecord as exc:
                self.skipped.append(SkippedLine(name, lines.number, str(exc)))
                continue
            if row is not None:
                row.update(
                    endpoint=path.endpoint if path else None,
                    variant=path.variant if path else None,
                    source_file=name,
                    line_no=lines.number,
                )
                self.rows.append(row)

    def _row(self, record: dict[str, Any]) -> dict[str, Any] | None:
        """The record as a row; None when it falls outside the window (not an error)."""
        metadata = record.get("eventMetadata")
        if not isinstance(metadata, dict):
            raise _BadRecord("no eventMetadata object")
        time = _inference_time(metadata.get("inferenceTime"))
        if not self.window.holds(time):
            return None
        capture = record.get("captureData")
        if not isinstance(capture, dict):
            raise _BadRecord("no captureData object")
        given_input, given_output = capture.get("endpointInput"), capture.get("endpointOutput")
        if given_input is None and given_output is None:
            raise _BadRecord("captureData has neither endpointInput nor endpointOutput")
        row: dict[str, Any] = {
            "time": time,
            "event_id": metadata.get("eventId"),
            "inference_id": metadata.get("inferenceId"),
            "label": None,
            "confidence": math.nan,
            "probabilities": None,
            "input_content_type": None,
        }
        if self.include_input:
            row[INPUT_BYTES] = None
        if given_input is not None:
            side = _side(given_input, "endpointInput")
            row["input_content_type"] = side.get("observedContentType")
            if self.include_input:
                row[INPUT_BYTES] = _decode(side, "endpointInput")
        if given_output is not None:
            probabilities = _probabilities(_side(given_output, "endpointOutput"))
            best = max(range(len(probabilities)), key=probabilities.__getitem__)
            if self.labels is None:
                row["label"] = str(best)
            elif len(self.labels) == len(probabilities):
                row["label"] = self.labels[best]
            else:
                raise _BadRecord(f"{len(probabilities)} probabilities but {len(self.labels)} labels")
            row["confidence"] = probabilities[best]
            row["probabilities"] = probabilities
        return row


def _side(value: Any, name: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise _BadRecord(f"{name} is a {type(value).__name__}, not an object")
    return value


def _inference_time(value: Any) -> pd.Timestamp:
    if not isinstance(value, str):
        raise _BadRecord("eventMetadata.inferenceTime is missing")
    try:
        utc = _utc(value)
    except ValueError:
        raise _BadRecord(f"eventMetadata.inferenceTime {value!r} is not an ISO-8601 time") from None
    assert utc is not None
    return utc


def _decode(side: dict[str, Any], name: str) -> bytes:
    """The captured body: BASE64 decoded, CSV and JSON as their UTF-8 text."""
    data, encoding = side.get("data"), str(side.get("encoding", "")).upper()
    if not isinstance(data, str):
        raise _BadRecord(f"{name}.data is missing")
    if encoding == "BASE64":
        try:
            return base64.b64decode(data, validate=True)
        except binascii.Error as exc:
            raise _BadRecord(f"{name}.data is not valid base64: {exc}") from None
    if encoding in {"JSON", "CSV"}:
        return data.encode()
    raise _BadRecord(f"{name}.encoding {side.get('encoding')!r} is not JSON, CSV or BASE64")


def _probabilities(side: dict[str, Any]) -> list[float]:
    """The output as a list of floats, whether captured as JSON, CSV, or BASE64 of either."""
    body = _decode(side, "endpointOutput")
    encoding = str(side.get("encoding", "")).upper()
    as_csv = encoding == "CSV" or (encoding == "BASE64" and _is_csv(str(side.get("observedContentType", ""))))
    try:
        text = body.decode()
        if as_csv:
            rows = [row for row in csv.reader(io.StringIO(text)) if row]
            values: Any = rows[0] if len(rows) == 1 else None
        else:
            values = json.loads(text)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise _BadRecord(f"endpointOutput.data is not {'CSV' if as_csv else 'JSON'}: {exc}") from None
    # A batch of one, [[p0, p1, ...]], is still one inference.
    if isinstance(values, list) and len(values) == 1 and isinstance(values[0], list):
        values = values[0]
    if not isinstance(values, list) or not values:
        raise _BadRecord("endpointOutput is not a non-empty list of probabilities")
    try:
        probabilities = [float(v) for v in values if not isinstance(v, bool)]
    except (TypeError, ValueError):
        probabilities = []
    if len(probabilities) != len(values) or not all(math.isfinite(p) for p in probabilities):
        raise _BadRecord("endpointOutput is not a list of finite numbers")
    return probabilities


def _utc(value: TimeLike | None) -> pd.Timestamp | None:
    if value is None:
        return None
    ts = pd.Timestamp(value)
    if pd.isna(ts):  # pd.Timestamp("") is NaT, which every comparison would quietly reject
        raise ValueError(f"{value!r} is not a time")
    return ts.tz_localize("UTC") if ts.tzinfo is None else ts.tz_convert("UTC")


def _is_csv(content_type: str) -> bool:
    return "csv" in content_type.lower()


def _frame(rows: list[dict[str, Any]], include_input: bool) -> pd.DataFrame:
    columns = [*COLUMNS, INPUT_BYTES] if include_input else COLUMNS
    frame = pd.DataFrame(rows, columns=columns).astype({"confidence": "float64", "line_no": "int64"})
    frame["time"] = pd.to_datetime(frame["time"], utc=True)
    return frame.sort_values(["time", "source_file", "line_no"], kind="stable").reset_index(drop=True)


def _log_skipped(skipped: list[SkippedLine]) -> None:
    for item in skipped[:MAX_LOGGED_SKIPS]:
        logger.warning("skipped capture line %s:%d: %s", item.file, item.line_no, item.reason)
    if len(skipped) > MAX_LOGGED_SKIPS:
        logger.warning("skipped %d more capture lines; see df.attrs['skipped']", len(skipped) - MAX_LOGGED_SKIPS)
