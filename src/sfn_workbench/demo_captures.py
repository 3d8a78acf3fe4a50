"""What the demo says about data capture: how many records landed against how many inferences, and where.

The local cloud keeps S3 in memory, so the demo copies the capture files to a local
directory before it stops: the notebook reads a local directory as well as an
``s3://`` prefix, and the printed command opens it on them.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sfn_workbench.localcloud.executions import ExecutionSummary

CAPTURE_PREFIX = "captures/"
#: How long the demo waits for buffered capture records to reach S3 before it reports what it has.
CAPTURE_WAIT_S = 60.0
NOTEBOOK = Path("notebooks") / "captured_inferences.ipynb"


def answered(summaries: Iterable[ExecutionSummary]) -> int:
    """Executions whose image the model answered: they SUCCEEDED or failed for low confidence."""
    return sum(1 for s in summaries if s.status == "SUCCEEDED" or s.error == "LowConfidenceError")


def answered_rows(batch_summary: dict[str, Any]) -> int:
    """Batch rows the model answered (an error row never reached it)."""
    outcomes = batch_summary.get("outcomes", {})
    return int(outcomes.get("confident", 0)) + int(outcomes.get("low_confidence", 0))


def capture_keys(s3: Any, bucket: str) -> list[str]:
    pages = s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=CAPTURE_PREFIX)
    return [o["Key"] for page in pages for o in page.get("Contents", [])]


def count_records(s3: Any, bucket: str) -> int:
    """Capture records (non-empty JSON Lines) in every capture file of the bucket."""
    total = 0
    for key in capture_keys(s3, bucket):
        body = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
        total += sum(1 for line in body.splitlines() if line.strip())
    return total


def wait_for_records(
    s3: Any,
    bucket: str,
    expected: int,
    timeout_s: float = CAPTURE_WAIT_S,
    on_progress: Callable[[int], None] | None = None,
) -> int:
    """Records in the bucket once ``expected`` have landed, or whatever is there after ``timeout_s``."""
    deadline = time.monotonic() + timeout_s
    while True:
        records = count_records(s3, bucket)
        if on_progress is not None:
            on_progress(records)
        if records >= expected or time.monotonic() > deadline:
            return records
        time.sleep(1.0)


def copy_captures(s3: Any, bucket: str, destination: Path) -> int:
    """Copy every capture file to ``destination``, keeping its path under captures/; returns the file count."""
    keys = capture_keys(s3, bucket)
    for key in keys:
        path = destination / key.removeprefix(CAPTURE_PREFIX)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(s3.get_object(Bucket=bucket, Key=key)["Body"].read())
    return len(keys)


@dataclass(frozen=True)
class CaptureReport:
    backend: str
    bucket: str
    inferences: int
    records: int
    files: int

    @property
    def missing(self) -> int:
        return max(self.inferences - self.records, 0)


def notebook_command(source: Path) -> str:
    """The command that runs the captured-inferences notebook on ``source`` and keeps its plots."""
    return (
        f"SFN_CAPTURE_SOURCE={source} .venv/bin/jupyter execute {NOTEBOOK} --output=captured_inferences_demo"
        f"   # writes notebooks/captured_inferences_demo.ipynb, plots included"
    )
