"""The report's independent check: a fresh listing of the prefix against the rows, and the store's listing."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import boto3
import pytest
from botocore.stub import Stubber

from sfn_inference.adapters.memory import InMemoryObjectStore
from sfn_inference.adapters.s3 import S3ObjectStore
from sfn_inference.core.errors import BatchIncompleteError, ObjectNotFoundError
from sfn_inference.core.messages import ResultRow
from sfn_inference.core.ports import ListedKey
from sfn_inference.core.report import ReportRequest, missing_keys, write_report

BUCKET = "b"
MANIFEST = "results/run/m1/manifest.json"


def results_for(store: InMemoryObjectStore, keys: list[str]) -> None:
    """A ResultWriter manifest and one SUCCEEDED file whose child settled ``keys``."""
    rows = [{"key": k, "outcome": "error", "error": "NotAnImageError"} for k in keys]
    result = [{"Status": "SUCCEEDED", "Output": json.dumps({"rows": rows})}]
    store.put(BUCKET, "results/run/m1/SUCCEEDED_0.json", json.dumps(result).encode(), "application/json")
    manifest = {"ResultFiles": {"SUCCEEDED": [{"Key": "results/run/m1/SUCCEEDED_0.json"}], "FAILED": []}}
    store.put(BUCKET, MANIFEST, json.dumps(manifest).encode(), "application/json")


def request(started_at: datetime | None) -> ReportRequest:
    return ReportRequest.model_validate(
        {
            "bucket": BUCKET,
            "prefix": "batch/",
            "results_prefix": "results/run/",
            "map": {"ResultWriterDetails": {"Bucket": BUCKET, "Key": MANIFEST}},
            "started_at": started_at.isoformat().replace("+00:00", "Z") if started_at else None,
        }
    )


def test_a_listed_key_without_a_row_fails_the_report_after_writing_what_it_has() -> None:
    store = InMemoryObjectStore()
    for name in ("a.txt", "b.txt", "c.txt"):
        store.put(BUCKET, f"batch/{name}", b"x", "text/plain")
    results_for(store, ["batch/a.txt"])  # the map lost b and c
    started = datetime.now(UTC) + timedelta(seconds=2)
    with pytest.raises(BatchIncompleteError, match=r"2 key\(s\) under s3://b/batch/ have no row.*b.txt, batch/c.txt"):
        write_report(request(started), store)
    lines = store.get(BUCKET, "results/run/items.jsonl").decode().splitlines()
    assert [json.loads(line)["key"] for line in lines] == ["batch/a.txt"]
    summary = json.loads(store.get(BUCKET, "results/run/summary.json"))
    assert summary["missing"] == {"count": 2, "keys": ["batch/b.txt", "batch/c.txt"]}


def test_every_key_with_its_row_passes() -> None:
    store = InMemoryObjectStore()
    keys = [f"batch/{i}.txt" for i in range(3)]
    for key in keys:
        store.put(BUCKET, key, b"x", "text/plain")
    results_for(store, keys)
    summary = write_report(request(datetime.now(UTC) + timedelta(seconds=2)), store)
    assert summary["items"] == 3 and "missing" not in summary


def test_objects_written_after_the_batch_started_need_no_row() -> None:
    started = datetime(2026, 1, 1, 12, 0, 0, 500_000, tzinfo=UTC)
    listed = [
        ListedKey("batch/before.png", started - timedelta(seconds=5)),
        ListedKey("batch/same-second.png", started.replace(microsecond=0)),  # S3 has whole seconds: maybe listed
        ListedKey("batch/after.png", started + timedelta(seconds=5)),
    ]
    assert missing_keys([], listed, started) == ["batch/before.png"]
    rows = [ResultRow(key="batch/before.png", outcome="confident", label="1", confidence=1.0)]
    assert missing_keys(rows, listed, started) == []
    assert missing_keys([], listed, None) == sorted(k.key for k in listed), "no start time: every key counts"


def test_the_memory_store_lists_a_prefix() -> None:
    store = InMemoryObjectStore()
    for key in ("p/b", "p/a", "q/c"):
        store.put(BUCKET, key, b"", "text/plain")
    assert [k.key for k in store.list_keys(BUCKET, "p/")] == ["p/a", "p/b"]
    assert all(k.last_modified.tzinfo is not None for k in store.list_keys(BUCKET, ""))


def test_the_s3_store_follows_every_page() -> None:
    client = boto3.client("s3", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x")
    when = datetime(2026, 1, 1, tzinfo=UTC)
    with Stubber(client) as stub:
        stub.add_response(
            "list_objects_v2",
            {"IsTruncated": True, "NextContinuationToken": "t1",
             "Contents": [{"Key": f"p/{i:04d}", "LastModified": when} for i in range(1000)]},
            {"Bucket": BUCKET, "Prefix": "p/"},
        )  # fmt: skip
        stub.add_response(
            "list_objects_v2",
            {"IsTruncated": False, "Contents": [{"Key": "p/1000", "LastModified": when}]},
            {"Bucket": BUCKET, "Prefix": "p/", "ContinuationToken": "t1"},
        )
        listed = S3ObjectStore(client).list_keys(BUCKET, "p/")
        stub.assert_no_pending_responses()
    assert len(listed) == 1001 and listed[-1] == ListedKey("p/1000", when)


def test_the_s3_store_names_a_missing_bucket() -> None:
    client = boto3.client("s3", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x")
    with Stubber(client) as stub:
        stub.add_client_error("list_objects_v2", "NoSuchBucket", http_status_code=404)
        with pytest.raises(ObjectNotFoundError, match="NoSuchBucket"):
            S3ObjectStore(client).list_keys("gone", "p/")
