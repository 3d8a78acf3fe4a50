"""Read the drift monitor's reports (``monitoring/{endpoint}/yyyy/mm/dd/hh/report.json``) into a DataFrame."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from sfn_inference.adapters.s3 import S3ObjectStore

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

COLUMNS = ["time", "endpoint", "status", "item_count", "check", "value", "threshold", "violated"]


def load_monitoring_reports(source: str | Path, s3_client: S3Client | None = None) -> pd.DataFrame:
    """One row per check per run (a run with no verdict is one row with no check), oldest first."""
    rows: list[dict[str, Any]] = []
    for report in _reports(str(source), s3_client):
        base = {
            "time": pd.Timestamp(report["window"]["end"]),
            "endpoint": report["endpoint"],
            "status": report["status"],
            "item_count": report["item_count"],
        }
        checks = report["checks"] or [{"name": None, "value": None, "threshold": None, "violated": False}]
        rows += [
            {**base, "check": c["name"], "value": c["value"], "threshold": c["threshold"], "violated": c["violated"]}
            for c in checks
        ]
    return pd.DataFrame(rows, columns=COLUMNS).sort_values("time", kind="stable").reset_index(drop=True)


def _reports(source: str, s3_client: S3Client | None) -> list[dict[str, Any]]:
    if not source.startswith("s3://"):
        return [json.loads(p.read_text()) for p in sorted(Path(source).rglob("report.json"))]
    bucket, _, prefix = source.removeprefix("s3://").partition("/")
    if s3_client is None:
        import boto3  # noqa: PLC0415 - only S3 sources pay for it

        s3_client = boto3.client("s3")
    store = S3ObjectStore(s3_client)
    keys = [k.key for k in store.list_keys(bucket, prefix) if k.key.endswith("/report.json")]
    return [json.loads(store.get(bucket, key)) for key in sorted(keys)]
