"""What the demo reports about data capture: records against inferences, and a copy the notebook reads."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws

from sfn_workbench.demo_captures import (
    CaptureReport,
    answered,
    answered_rows,
    copy_captures,
    count_records,
    notebook_command,
    wait_for_records,
)
from sfn_workbench.localcloud.executions import ExecutionSummary

BUCKET = "images"


@pytest.fixture
def s3(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    for name in ("AWS_ENDPOINT_URL", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    with mock_aws():
        client = boto3.client("s3", region_name="us-east-1")
        client.create_bucket(Bucket=BUCKET)
        yield client


def test_answered_counts_what_reached_the_model() -> None:
    summaries = [
        ExecutionSummary("a", "arn:a", "SUCCEEDED"),
        ExecutionSummary("b", "arn:b", "FAILED", error="LowConfidenceError"),
        ExecutionSummary("c", "arn:c", "FAILED", error="NotAnImageError"),
        ExecutionSummary("d", "arn:d", "RUNNING"),
    ]
    assert answered(summaries) == 2
    assert answered_rows({"outcomes": {"confident": 5, "low_confidence": 2, "error": 9}}) == 7


def test_records_are_counted_line_by_line_and_copied_under_their_paths(s3: Any, tmp_path: Path) -> None:
    s3.put_object(Bucket=BUCKET, Key="captures/ep/AllTraffic/2026/11/30/01/00-00-000-a.jsonl", Body=b"{}\n{}\n")
    s3.put_object(Bucket=BUCKET, Key="captures/ep/AllTraffic/2026/11/30/01/00-05-000-b.jsonl", Body=b"{}\n\n")
    s3.put_object(Bucket=BUCKET, Key="test/not-a-capture.png", Body=b"x")
    assert count_records(s3, BUCKET) == 3
    assert copy_captures(s3, BUCKET, tmp_path) == 2
    assert (tmp_path / "ep/AllTraffic/2026/11/30/01/00-00-000-a.jsonl").read_bytes() == b"{}\n{}\n"


def test_waiting_stops_at_the_deadline_and_reports_what_landed(s3: Any) -> None:
    s3.put_object(Bucket=BUCKET, Key="captures/ep/v/f.jsonl", Body=b"{}\n")
    seen: list[int] = []
    assert wait_for_records(s3, BUCKET, expected=5, timeout_s=0.0, on_progress=seen.append) == 1
    assert seen == [1]
    assert CaptureReport("litert", BUCKET, inferences=5, records=1, files=1).missing == 4


def test_the_notebook_command_points_at_the_copy_and_never_overwrites_the_notebook(tmp_path: Path) -> None:
    command = notebook_command(tmp_path)
    assert command.startswith(f"SFN_CAPTURE_SOURCE={tmp_path} .venv/bin/jupyter execute ")
    assert "notebooks/captured_inferences.ipynb" in command
    # nbclient writes <notebook dir>/<output>.with_suffix(".ipynb"): a dot in it would be replaced,
    # and "captured_inferences.demo" overwrote the committed notebook.
    [output] = re.findall(r"--output=(\S+)", command)
    assert "." not in output and output != "captured_inferences"
