"""In-Lambda data capture that survives a frozen and retired environment: each record is a log line.

Lambda ships what a function writes to stdout to CloudWatch Logs whatever becomes of
the execution environment afterwards, and it runs no exit handler when it retires one.
So a record written here before the invocation returns is never lost, and the hot
path pays for one ``json`` encode and one ``write`` per record, not an S3 PUT. A
subscription filter on the function's log group hands the lines to the
``capture_compactor`` function, which writes them as SageMaker capture files
(:mod:`sfn_inference.datacapture.compaction`), typically within seconds.

A record too large for one log event (CloudWatch Logs takes at most 256 KB) is
written straight to S3 as a capture file of its own instead.
"""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime

from sfn_inference.core.ports import ObjectStore
from sfn_inference.datacapture.config import CaptureConfig
from sfn_inference.datacapture.writer import CaptureSink, CaptureWriter, capture_path, sink_for

log = logging.getLogger(__name__)

#: The key a capture log line is found by (the subscription filter's pattern matches on it).
CAPTURE_KEY = "sfn_capture"
#: CloudWatch Logs' largest event, less its 26 bytes of per-event overhead.
MAX_LOG_EVENT_BYTES = 262_144 - 26
JSON_CONTENT_TYPE = "application/json"
FILTER_PATTERN = '{ $.sfn_capture.record.eventVersion = "0" }'


def _stdout(line: str) -> None:
    sys.stdout.write(line)
    sys.stdout.flush()


class LogStreamWriter(CaptureWriter):
    """Samples and encodes like :class:`CaptureWriter`, but hands each record to the log at once."""

    def __init__(self, config: CaptureConfig, overflow: CaptureSink, *, emit: Callable[[str], None] = _stdout) -> None:
        super().__init__(config, overflow)
        self._emit = emit
        self._prefix = json.dumps(
            {
                "destination": config.data_capture.destination_s3_uri,
                "endpoint": config.endpoint_name,
                "variant": config.variant_name,
            },
            separators=(",", ":"),
        )[:-1]  # the open object, to which the record is appended without re-encoding it

    def _line(self, record: str) -> str:
        return f'{{"{CAPTURE_KEY}":{self._prefix},"record":{record}}}}}\n'

    def _store_many(self, records: list[str], now: datetime) -> None:
        """A batch's records in one write (each still its own line, so its own log event)."""
        lines = [self._line(r) for r in records]
        fits = [line for line in lines if len(line) <= MAX_LOG_EVENT_BYTES]
        if fits:
            self._emit("".join(fits))
            with self._lock:
                self.counters.captured += len(fits)
                self.counters.written_records += len(fits)
        for record, line in zip(records, lines, strict=True):
            if len(line) > MAX_LOG_EVENT_BYTES:
                self._store(record, now)

    def _store(self, record: str, now: datetime) -> None:
        text = self._line(record)
        if len(text) <= MAX_LOG_EVENT_BYTES:  # ASCII JSON: characters are bytes
            self._emit(text)
            with self._lock:
                self.counters.captured += 1
                self.counters.written_records += 1
            return
        line = record.encode() + b"\n"
        path = capture_path(self.config.endpoint_name, self.config.variant_name, now)
        try:
            self.sink.write(path, line)
        except Exception:
            log.warning("data capture: could not write %s (1 record dropped)", path, exc_info=True)
            with self._lock:
                self.counters.failed_writes += 1
                self.counters.dropped_records += 1
            return
        with self._lock:
            self.counters.captured += 1
            self.counters.files_written += 1
            self.counters.written_records += 1


class _SinkOnFirstWrite:
    """Builds the overflow sink (boto3, for S3) only when a record is too large for a log line:
    a request to the series and tabular functions never is, so their cold start skips boto3."""

    def __init__(self, destination: str) -> None:
        self._destination = destination
        self._sink: CaptureSink | None = None

    def write(self, path: str, body: bytes) -> None:
        if self._sink is None:
            self._sink = sink_for(self._destination)
        self._sink.write(path, body)


def log_capture_writer(
    env: Mapping[str, str] | None = None, *, store: ObjectStore | None = None
) -> LogStreamWriter | None:
    """A writer from the ``CAPTURE_*`` variables (None when capture is off); overflow to ``store``
    or, when none is given, to S3 through boto3 built on first use."""
    config = CaptureConfig.from_env(env)
    if config is None:
        return None
    destination = config.data_capture.destination_s3_uri
    overflow = sink_for(destination, store) if store is not None else _SinkOnFirstWrite(destination)
    return LogStreamWriter(config, overflow)


class CaptureRecorder:
    """An answered request to a JSON model as its endpoint's data capture would record it: the
    request's JSON in, the JSON list of probabilities out (both JSON-encoded in the record)."""

    def __init__(self, writer: CaptureWriter) -> None:
        self.writer = writer

    def record(self, request: bytes, probabilities: Sequence[float]) -> None:
        self.writer.capture(
            input_body=request,
            input_content_type=JSON_CONTENT_TYPE,
            output_body=json.dumps([float(p) for p in probabilities]).encode(),
            output_content_type=JSON_CONTENT_TYPE,
        )


def writer_from_env(store: ObjectStore, env: Mapping[str, str] | None = None) -> LogStreamWriter | None:
    """The in-Lambda capture writer when ``CAPTURE_*`` is set (else None): each record a log line,
    a record too big for one log event written to S3 through ``store``."""
    return log_capture_writer(env, store=store)
