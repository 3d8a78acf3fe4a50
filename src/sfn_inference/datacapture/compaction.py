"""Capture log lines into SageMaker capture files: the core of the ``capture_compactor`` function.

A CloudWatch Logs subscription delivers ``{"awslogs": {"data": base64(gzip(json))}}``
with the log events of one stream. Records are grouped by destination, endpoint,
variant and hour, as SageMaker lays its files out, and each group becomes one file
whose name is derived from the first log event's id: a redelivered batch rewrites
the same objects instead of duplicating them.
"""

from __future__ import annotations

import base64
import binascii
import gzip
import json
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sfn_inference.core.errors import InvalidEventError
from sfn_inference.datacapture.logstream import CAPTURE_KEY
from sfn_inference.datacapture.writer import capture_path

_FILE_IDS = uuid.UUID("6f1c4d2e-3b7a-4c55-9a51-0e8d6c9b2f10")


@dataclass(frozen=True)
class LogEvent:
    id: str
    message: str


@dataclass
class CaptureFile:
    destination: str
    path: str
    lines: list[bytes] = field(default_factory=list)

    @property
    def body(self) -> bytes:
        return b"".join(self.lines)


@dataclass
class Compaction:
    files: list[CaptureFile]
    #: Lines that are not capture records (only locally: on AWS the subscription's filter pattern drops them).
    ignored: int = 0
    #: Capture lines that cannot be read back: (log event id, why). Reported, never dropped silently.
    malformed: list[tuple[str, str]] = field(default_factory=list)

    @property
    def records(self) -> int:
        return sum(len(f.lines) for f in self.files)


def decode_subscription(event: Any) -> list[LogEvent]:
    """The log events of a CloudWatch Logs subscription delivery; InvalidEventError for anything else."""
    try:
        data = json.loads(gzip.decompress(base64.b64decode(event["awslogs"]["data"], validate=True)))
        return [LogEvent(str(e["id"]), str(e["message"])) for e in data.get("logEvents", [])]
    except (KeyError, TypeError, ValueError, binascii.Error, OSError, EOFError) as exc:
        raise InvalidEventError(f"not a CloudWatch Logs subscription delivery: {exc}") from None


def compact(events: Iterable[LogEvent]) -> Compaction:
    files: dict[tuple[str, str, str, str], CaptureFile] = {}
    result = Compaction(files=[])
    for event in events:
        if f'"{CAPTURE_KEY}"' not in event.message:
            result.ignored += 1
            continue
        try:
            entry = json.loads(event.message)[CAPTURE_KEY]
            destination, endpoint, variant = str(entry["destination"]), str(entry["endpoint"]), str(entry["variant"])
            record: Mapping[str, Any] = entry["record"]
            when = _inference_time(record)
        except (ValueError, KeyError, TypeError) as exc:
            result.malformed.append((event.id, f"{type(exc).__name__}: {exc}"))
            continue
        key = (destination, endpoint, variant, f"{when:%Y%m%d%H}")
        if key not in files:
            file_id = str(uuid.uuid5(_FILE_IDS, event.id))
            files[key] = CaptureFile(destination, capture_path(endpoint, variant, when, file_id))
        files[key].lines.append(json.dumps(record, separators=(",", ":")).encode() + b"\n")
    result.files = list(files.values())
    return result


def _inference_time(record: Mapping[str, Any]) -> datetime:
    text = str(record["eventMetadata"]["inferenceTime"])
    return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(UTC)
