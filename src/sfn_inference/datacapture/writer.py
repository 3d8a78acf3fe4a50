"""SageMaker Model Monitor data capture, written exactly as SageMaker writes it.

Used by the endpoint server (``serving/server.py``, on the local cloud) and by the
in-Lambda LiteRT backend, so monitoring tools read one format whichever backend
ran the model. Each sampled request becomes one JSON line::

    {"captureData": {"endpointInput": {"observedContentType", "mode": "INPUT", "data", "encoding"},
                     "endpointOutput": {... "mode": "OUTPUT" ...}},
     "eventMetadata": {"eventId", "inferenceTime", "inferenceId" (only when the caller gave one)},
     "eventVersion": "0"}

and lines are buffered and written together, one object per time window, at::

    {DestinationS3Uri}/{endpoint}/{variant}/yyyy/mm/dd/hh/{MM-SS-mmm}-{uuid}.jsonl

A capture must never fail an inference: encoding and write failures are logged
and counted in :class:`CaptureCounters`, never raised. (:mod:`sfn_workbench.capture_reader`
is the reader of these files; it pulls in pandas, so the Lambda never imports it.)
"""

from __future__ import annotations

import base64
import logging
import os
import random
import threading
import uuid
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from json.encoder import encode_basestring_ascii as json_string
from pathlib import Path
from typing import Any, Literal, Protocol
from urllib.parse import unquote, urlparse

from sfn_inference.core.errors import ConfigError
from sfn_inference.core.ports import ObjectStore
from sfn_inference.datacapture.config import CaptureConfig, DataCaptureConfig, Encoding

log = logging.getLogger(__name__)

CAPTURE_FILE_CONTENT_TYPE = "application/jsonlines"

Mode = Literal["INPUT", "OUTPUT"]


# --- records ---------------------------------------------------------------------------------------


def iso_millis(when: datetime) -> str:
    """ISO-8601 UTC with milliseconds and a Z, as SageMaker writes inferenceTime."""
    return when.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def encode_side(mode: Mode, content_type: str, body: bytes, encoding: Encoding) -> dict[str, str]:
    """One of ``endpointInput`` / ``endpointOutput``: CSV and JSON as their text, anything else BASE64."""
    if encoding != "BASE64":
        try:
            return {
                "observedContentType": content_type,
                "mode": mode,
                "data": body.decode("utf-8"),
                "encoding": encoding,
            }
        except UnicodeDecodeError:
            pass  # declared as text but is not UTF-8: keep the bytes rather than lose the record
    data = base64.b64encode(body).decode("ascii")
    return {"observedContentType": content_type, "mode": mode, "data": data, "encoding": "BASE64"}


def build_record(
    config: DataCaptureConfig,
    *,
    input_body: bytes,
    input_content_type: str,
    output_body: bytes,
    output_content_type: str,
    inference_time: datetime,
    event_id: str | None = None,
    inference_id: str | None = None,
) -> dict[str, Any]:
    """One capture record; the side CaptureOptions leaves out is omitted, not emptied."""
    capture: dict[str, Any] = {}
    if config.captures_input:
        capture["endpointInput"] = encode_side(
            "INPUT", input_content_type, input_body, config.encoding_for(input_content_type)
        )
    if config.captures_output:
        capture["endpointOutput"] = encode_side(
            "OUTPUT", output_content_type, output_body, config.encoding_for(output_content_type)
        )
    metadata = {"eventId": event_id or str(uuid.uuid4()), "inferenceTime": iso_millis(inference_time)}
    if inference_id:
        metadata["inferenceId"] = inference_id
    return {"captureData": capture, "eventMetadata": metadata, "eventVersion": "0"}


def event_id_v4() -> str:
    """``str(uuid.uuid4())`` without ``uuid.UUID``'s constructor: a fifth of the cost, on every record."""
    raw = bytearray(os.urandom(16))
    raw[6] = raw[6] & 0x0F | 0x40  # version 4
    raw[8] = raw[8] & 0x3F | 0x80  # the RFC 4122 variant
    h = raw.hex()
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


def capture_path(endpoint_name: str, variant_name: str, first_record: datetime, file_id: str | None = None) -> str:
    """``{endpoint}/{variant}/yyyy/mm/dd/hh/{MM-SS-mmm}-{uuid}.jsonl``, relative to the destination."""
    when = first_record.astimezone(UTC)
    name = f"{when:%M-%S}-{when.microsecond // 1000:03d}-{file_id or uuid.uuid4()}.jsonl"
    return f"{endpoint_name}/{variant_name}/{when:%Y/%m/%d/%H}/{name}"


class RecordEncoder:
    """:func:`build_record` encoded as compact JSON, the same bytes, in a few microseconds.

    The writer encodes a record per inference on the hot path; a dict and ``json.dumps``
    cost 20-40 us there. Everything that does not change between records (the capture
    options, each content type's encoding and its JSON string) is worked out once, and
    base64 needs no escaping. ``tests/unit/datacapture/test_writer.py`` holds the two to
    byte equality.
    """

    def __init__(self, config: DataCaptureConfig) -> None:
        self.config = config
        self._input, self._output = config.captures_input, config.captures_output
        self._sides: dict[tuple[Mode, str], tuple[str, Encoding]] = {}
        self._time: tuple[datetime | None, str] = (None, "")

    def _side(self, mode: Mode, content_type: str) -> tuple[str, Encoding]:
        known = self._sides.get((mode, content_type))
        if known is None:
            encoding = self.config.encoding_for(content_type)
            head = f'{{"observedContentType":{json_string(content_type)},"mode":"{mode}","data":'
            known = self._sides[(mode, content_type)] = (head, encoding)
        return known

    def _encode_side(self, mode: Mode, content_type: str, body: bytes) -> str:
        head, encoding = self._side(mode, content_type)
        if encoding != "BASE64":
            try:
                return f'{head}{json_string(body.decode("utf-8"))},"encoding":"{encoding}"}}'
            except UnicodeDecodeError:
                pass  # declared as text but is not UTF-8: keep the bytes rather than lose the record
        return f'{head}"{base64.b64encode(body).decode("ascii")}","encoding":"BASE64"}}'

    def encode(
        self,
        *,
        input_body: bytes,
        input_content_type: str,
        output_body: bytes,
        output_content_type: str,
        inference_time: datetime,
        event_id: str | None = None,
        inference_id: str | None = None,
    ) -> str:
        """One record as one line of JSON (no newline), exactly ``json.dumps(build_record(...))``."""
        sides = []
        if self._input:
            sides.append(f'"endpointInput":{self._encode_side("INPUT", input_content_type, input_body)}')
        if self._output:
            sides.append(f'"endpointOutput":{self._encode_side("OUTPUT", output_content_type, output_body)}')
        metadata = f'"eventId":"{event_id_v4()}"' if event_id is None else f'"eventId":{json_string(event_id)}'
        if inference_time is not self._time[0]:  # a batch's records share one clock reading
            self._time = (inference_time, iso_millis(inference_time))
        metadata += f',"inferenceTime":"{self._time[1]}"'
        if inference_id:
            metadata += f',"inferenceId":{json_string(inference_id)}'
        return f'{{"captureData":{{{",".join(sides)}}},"eventMetadata":{{{metadata}}},"eventVersion":"0"}}'


# --- sinks -----------------------------------------------------------------------------------------


class CaptureSink(Protocol):
    def write(self, path: str, body: bytes) -> None:
        """Store one capture file at ``path`` (relative to the destination); raise on failure."""


class ObjectStoreSink:
    """An ``s3://bucket/prefix`` destination, through the project's ObjectStore (S3 or a fake)."""

    def __init__(self, store: ObjectStore, destination_s3_uri: str) -> None:
        parsed = urlparse(destination_s3_uri)
        if parsed.scheme != "s3" or not parsed.netloc:
            raise ConfigError(f"not an s3:// destination: {destination_s3_uri!r}")
        self.store = store
        self.bucket = parsed.netloc
        self.prefix = parsed.path.strip("/")

    def write(self, path: str, body: bytes) -> None:
        key = f"{self.prefix}/{path}" if self.prefix else path
        self.store.put(self.bucket, key, body, CAPTURE_FILE_CONTENT_TYPE)


class LocalDirectorySink:
    """A local directory laid out like the S3 destination."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def write(self, path: str, body: bytes) -> None:
        target = self.root / path
        target.parent.mkdir(parents=True, exist_ok=True)
        # Write then rename, so a reader listing the directory never sees half a file.
        partial = target.with_name(f".{target.name}.partial")
        partial.write_bytes(body)
        partial.replace(target)


def sink_for(destination: str, store: ObjectStore | None = None) -> CaptureSink:
    """The sink for a DestinationS3Uri: S3 through ``store`` (default: boto3), or ``file://`` local."""
    parsed = urlparse(destination)
    if parsed.scheme == "file":
        return LocalDirectorySink(Path(unquote(parsed.path)))
    if store is None:
        from sfn_inference.adapters.s3 import S3ObjectStore  # noqa: PLC0415 - boto3 only when S3 is written

        store = S3ObjectStore()
    return ObjectStoreSink(store, destination)


# --- the writer ------------------------------------------------------------------------------------

#: One request for :meth:`CaptureWriter.capture_many`: input body and content type, output body and content type.
CaptureRequest = tuple[bytes, str, bytes, str]


@dataclass
class CaptureCounters:
    captured: int = 0  # sampled in and buffered
    skipped_by_sampling: int = 0
    written_records: int = 0
    files_written: int = 0
    failed_writes: int = 0  # files the sink failed to store
    dropped_records: int = 0  # records lost: in a failed file, or not encodable

    def as_dict(self) -> dict[str, int]:
        return asdict(self)


@dataclass
class _Buffer:
    first: datetime
    lines: list[bytes] = field(default_factory=list)
    size: int = 0

    @property
    def hour(self) -> datetime:
        return _hour(self.first)


def _hour(when: datetime) -> datetime:
    return when.astimezone(UTC).replace(minute=0, second=0, microsecond=0)


def _utcnow() -> datetime:
    return datetime.now(UTC)


class CaptureWriter:
    """Samples, encodes and buffers capture records; writes one file per window. Thread-safe.

    A buffered file is written when the next record falls in another hour, when it
    would exceed ``max_file_bytes``, when its first record is ``max_age_seconds``
    old (checked on each capture and, with ``background=True``, by a daemon
    thread), and on :meth:`flush` / :meth:`close`. A Lambda handler calls
    :meth:`flush` at the end of each invocation: a frozen environment runs no thread.
    """

    def __init__(
        self,
        config: CaptureConfig,
        sink: CaptureSink,
        *,
        rng: random.Random | None = None,
        clock: Callable[[], datetime] = _utcnow,
        background: bool = False,
    ) -> None:
        self.config = config
        self.sink = sink
        self.counters = CaptureCounters()
        self._rng = rng or random.Random()
        self._clock = clock
        self._max_age = timedelta(seconds=config.max_age_seconds)
        self._encoder = RecordEncoder(config.data_capture)
        self._percentage = config.data_capture.initial_sampling_percentage
        self._lock = threading.Lock()
        self._buffer: _Buffer | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        if background:
            self._thread = threading.Thread(target=self._flush_periodically, name="capture-flush", daemon=True)
            self._thread.start()

    def capture(
        self,
        *,
        input_body: bytes,
        input_content_type: str,
        output_body: bytes,
        output_content_type: str,
        inference_id: str | None = None,
    ) -> bool:
        """Record one request and its response if sampled; True when buffered. Never raises."""
        try:
            return self._capture(input_body, input_content_type, output_body, output_content_type, inference_id)
        except Exception:
            log.exception("data capture: could not record an inference (the inference itself succeeded)")
            with self._lock:
                self.counters.dropped_records += 1
            return False

    def _capture(
        self, input_body: bytes, input_type: str, output_body: bytes, output_type: str, inference_id: str | None
    ) -> bool:
        with self._lock:  # one seeded RNG, one draw per request, in call order
            sampled = self._rng.random() * 100.0 < self.config.data_capture.initial_sampling_percentage
            if not sampled:
                self.counters.skipped_by_sampling += 1
                return False
        now = self._clock()
        record = self._encoder.encode(
            input_body=input_body,
            input_content_type=input_type,
            output_body=output_body,
            output_content_type=output_type,
            inference_time=now,
            inference_id=inference_id,
        )
        self._store(record, now)
        return True

    def capture_many(self, requests: Sequence[CaptureRequest]) -> int:
        """:meth:`capture` for each request, in order, with one clock reading and one store for the
        lot (one log write for a batch). Returns how many were recorded. Never raises."""
        try:
            with self._lock:
                sampled = [r for r in requests if self._rng.random() * 100.0 < self._percentage]
                self.counters.skipped_by_sampling += len(requests) - len(sampled)
            now = self._clock()
            records = [
                self._encoder.encode(
                    input_body=r[0], input_content_type=r[1], output_body=r[2], output_content_type=r[3],
                    inference_time=now,
                )
                for r in sampled
            ]  # fmt: skip
        except Exception:
            log.exception("data capture: could not record %d inferences (they succeeded)", len(requests))
            with self._lock:
                self.counters.dropped_records += len(requests)
            return 0
        self._store_many(records, now)
        return len(records)

    def _store_many(self, records: list[str], now: datetime) -> None:
        for record in records:
            self._store(record, now)

    def _store(self, record: str, now: datetime) -> None:
        """Buffer one encoded record (a line of ASCII JSON, without its newline); write the files that are due."""
        line = record.encode() + b"\n"
        due: list[_Buffer] = []
        with self._lock:
            buffer = self._buffer
            if buffer is not None and (
                buffer.hour != _hour(now)
                or buffer.size + len(line) > self.config.max_file_bytes
                or now - buffer.first >= self._max_age
            ):
                due.append(buffer)
                buffer = None
            if buffer is None:
                buffer = _Buffer(first=now)
            buffer.lines.append(line)
            buffer.size += len(line)
            self.counters.captured += 1
            if buffer.size >= self.config.max_file_bytes:
                due.append(buffer)  # a record as big as a file goes out on its own, now
                buffer = None
            self._buffer = buffer
        for full in due:
            self._write(full)

    def flush(self) -> None:
        """Write whatever is buffered, now. Never raises."""
        with self._lock:
            buffer, self._buffer = self._buffer, None
        if buffer is not None:
            self._write(buffer)

    def flush_if_due(self) -> None:
        with self._lock:
            buffer = self._buffer
            if buffer is None or self._clock() - buffer.first < self._max_age:
                return
            self._buffer = None
        self._write(buffer)

    def close(self) -> None:
        """Stop the background thread and flush. The writer stays usable (with explicit flushes)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=max(5.0, self.config.max_age_seconds))
            self._thread = None
        self.flush()

    def _flush_periodically(self) -> None:
        interval = min(self.config.max_age_seconds / 2, 1.0)
        while not self._stop.wait(interval):
            self.flush_if_due()

    def _write(self, buffer: _Buffer) -> None:
        path = capture_path(self.config.endpoint_name, self.config.variant_name, buffer.first)
        try:
            self.sink.write(path, b"".join(buffer.lines))
        except Exception:
            log.warning("data capture: could not write %s (%d records dropped)", path, len(buffer.lines), exc_info=True)
            with self._lock:
                self.counters.failed_writes += 1
                self.counters.dropped_records += len(buffer.lines)
            return
        with self._lock:
            self.counters.files_written += 1
            self.counters.written_records += len(buffer.lines)


def open_capture_writer(
    config: CaptureConfig,
    *,
    store: ObjectStore | None = None,
    background: bool = False,
    rng: random.Random | None = None,
    clock: Callable[[], datetime] = _utcnow,
) -> CaptureWriter:
    """A writer for ``config``'s destination: S3 through ``store`` (default: boto3) or a local directory."""
    return CaptureWriter(
        config, sink_for(config.data_capture.destination_s3_uri, store), rng=rng, clock=clock, background=background
    )
