"""The batch's first step checks the request; its last names a malformed ResultWriter manifest."""

from __future__ import annotations

import json
from typing import Any

import pytest

from sfn_inference.adapters.memory import InMemoryObjectStore
from sfn_inference.core.errors import ConfigError, InvalidEventError, MalformedManifestError, ObjectNotFoundError
from sfn_inference.roots import report as report_root
from support import FakeLambdaContext, load_handler

BUCKET = "images"
ENV = {
    "IMAGE_BUCKET": BUCKET,
    "READABLE_PREFIXES": "incoming/,test/",
    "DEFAULT_BATCH_SIZE": "16",
    "DEFAULT_TOLERATED_FAILURE_PERCENTAGE": "10",
    "DEFAULT_MAX_CONCURRENCY": "10",
}


@pytest.fixture
def report(monkeypatch: pytest.MonkeyPatch):
    for name, value in ENV.items():  # the handler module builds its root at import, from os.environ
        monkeypatch.setenv(name, value)
    store = InMemoryObjectStore()
    store.put(BUCKET, "test/7.png", b"\x89PNG", "image/png")
    return load_handler("report", store=store, env=ENV)


def check(report: Any, request: Any, context: FakeLambdaContext) -> dict[str, Any]:
    out: dict[str, Any] = report.lambda_handler({"mode": "check", "request": request, "execution": "run1"}, context)
    return out


def test_defaults_come_from_the_template_parameters(report, context) -> None:
    assert check(report, {"bucket": BUCKET, "prefix": "test/"}, context) == {
        "bucket": BUCKET,
        "prefix": "test/",
        "batch_size": 16,
        "tolerated_failure_percentage": 10.0,
        "max_concurrency": 10,
        "confidence_threshold": None,
        "results_prefix": "results/run1/",
        "empty": False,
        "started_at": None,
    }


def test_what_the_request_names_wins(report, context) -> None:
    request = {
        "bucket": BUCKET,
        "prefix": "test/",
        "batch_size": 4,
        "tolerated_failure_percentage": 0,
        "max_concurrency": 2,
        "confidence_threshold": 0.5,
    }
    out = check(report, request, context)
    assert {k: out[k] for k in request} == request


def test_an_empty_prefix_is_not_an_error(report, context) -> None:
    assert check(report, {"bucket": BUCKET, "prefix": "test/none/"}, context)["empty"] is True


@pytest.mark.parametrize(
    ("request_", "match"),
    [
        ("test/", r"is a JSON object such as \{\"bucket\": \"images\", \"prefix\": \"test/\".*got a JSON string"),
        (["test/"], "got a JSON array"),
        (None, "got a JSON null"),
        (16, "got a JSON number"),
        ({}, r"bucket: Field required; for example \{\"bucket\": \"images\""),
        ({"bucket": BUCKET, "prefix": "test/", "batch_size": "ten"}, r"batch_size: .* valid integer \(got \"ten\"\)"),
        ({"bucket": BUCKET, "prefix": "test/", "batch_size": 0}, r"batch_size: .* greater than or equal to 1 .got 0."),
        ({"bucket": BUCKET, "prefix": "test/", "batch_size": 2.5}, "batch_size: Input should be a valid integer"),
        ({"bucket": BUCKET, "prefix": "test/", "batch_size": True}, "batch_size: Input should be a valid integer"),
        ({"bucket": BUCKET, "prefix": "test/", "batch_size": 257}, "less than or equal to 256"),
        ({"bucket": BUCKET, "prefix": "test/", "batchsize": 4}, r"batchsize: Extra inputs are not permitted"),
        ({"bucket": BUCKET, "prefix": "test/", "tolerated_failure_percentage": 101}, "tolerated_failure_percentage"),
        ({"bucket": BUCKET, "prefix": "test/", "max_concurrency": "many"}, "max_concurrency"),
        ({"bucket": BUCKET, "prefix": "test/", "confidence_threshold": 93}, "confidence_threshold"),
        ({"bucket": BUCKET, "prefix": 7}, "prefix: Input should be a valid string"),
        ({"bucket": "someone-elses", "prefix": "test/"}, "'someone-elses' is not this stack's: .* only from 'images'"),
        ({"bucket": BUCKET}, "prefix '' is outside what the batch may read: .* incoming/ or test/"),
        ({"bucket": BUCKET, "prefix": "results/"}, "prefix 'results/' is outside"),
    ],
    ids=[
        "string", "array", "null", "number", "empty-object", "batch-size-not-a-number", "batch-size-0",
        "batch-size-fraction", "batch-size-boolean", "batch-size-too-big", "unknown-field", "tolerance-over-100",
        "concurrency-not-a-number", "threshold-a-percentage", "prefix-not-a-string", "another-bucket",
        "no-prefix", "prefix-not-readable",
    ],
)  # fmt: skip
def test_a_malformed_request_is_an_invalid_event_that_says_what_to_fix(report, context, request_, match) -> None:
    with pytest.raises(InvalidEventError, match=match):
        check(report, request_, context)


def test_the_stacks_bucket_is_required_configuration() -> None:
    with pytest.raises(ConfigError, match="IMAGE_BUCKET"):
        report_root.build(store=InMemoryObjectStore(), env={})


def test_an_empty_prefix_gets_a_report_that_says_so(report, context) -> None:
    checked = check(report, {"bucket": BUCKET, "prefix": "test/none/"}, context)
    summary = report.lambda_handler(checked, context)
    assert summary["items"] == 0 and summary["outcomes"] == {"confident": 0, "low_confidence": 0, "error": 0}
    assert summary["note"] == f"no objects under s3://{BUCKET}/test/none/: nothing to classify"
    store = report.deps.store
    assert store.get(BUCKET, "results/run1/items.jsonl") == b""
    assert json.loads(store.get(BUCKET, "results/run1/summary.json")) == summary


def report_request(manifest_key: str = "results/run1/m/manifest.json") -> dict[str, Any]:
    return {
        "bucket": BUCKET,
        "prefix": "test/",
        "results_prefix": "results/run1/",
        "map": {"ResultWriterDetails": {"Bucket": BUCKET, "Key": manifest_key}},
    }


@pytest.mark.parametrize(
    ("manifest", "result_file"),
    [
        (b"not json", None),
        (b"[1, 2]", None),
        (json.dumps({"ResultFiles": {"SUCCEEDED": [{"Path": "x"}]}}).encode(), None),
        (json.dumps({"ResultFiles": {"SUCCEEDED": [{"Key": "results/run1/m/S.json"}]}}).encode(), b'{"Status": 1}'),
        (
            json.dumps({"ResultFiles": {"SUCCEEDED": [{"Key": "results/run1/m/S.json"}]}}).encode(),
            json.dumps([{"Status": "SUCCEEDED", "Output": json.dumps({"rows": [{"key": "k"}]})}]).encode(),
        ),
    ],
    ids=["not-json", "not-an-object", "entry-without-key", "result-file-not-a-list", "row-without-outcome"],
)
def test_a_malformed_manifest_is_a_named_error(report, context, manifest: bytes, result_file: bytes | None) -> None:
    report.deps.store.put(BUCKET, "results/run1/m/manifest.json", manifest, "application/json")
    if result_file is not None:
        report.deps.store.put(BUCKET, "results/run1/m/S.json", result_file, "application/json")
    with pytest.raises(MalformedManifestError, match=r"s3://images/results/run1/m/manifest.json .* is malformed"):
        report.lambda_handler(report_request(), context)


def test_a_missing_manifest_keeps_its_own_name(report, context) -> None:
    with pytest.raises(ObjectNotFoundError):
        report.lambda_handler(report_request("results/run1/nowhere.json"), context)
