"""Batch mode on the local cloud: a Distributed Map over a prefix, every key exactly once."""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

import pytest

from cloud_helpers import function_name, wait_terminal
from sfn_inference.adapters.litert import LiteRTImagePredictor
from sfn_inference.core.bundle import ModelBundle
from sfn_workbench.training.datasets import demo_split
from support import BUNDLE_DIR, png_image

REFERENCE = BUNDLE_DIR / "reference"
DEMO_IMAGES = 200


@pytest.fixture(scope="module")
def batch_prefix(s3, bucket, tmp_path_factory) -> dict[str, str]:
    """200 demo images plus the bad objects of the issue, under test/batch-<id>/."""
    prefix = f"test/batch-{uuid.uuid4().hex[:6]}/"
    images = demo_split(tmp_path_factory.mktemp("demo"))[:DEMO_IMAGES]
    expected = {}
    for path in images:
        key = f"{prefix}{path.parent.name}_{path.name}"
        s3.put_object(Bucket=bucket, Key=key, Body=path.read_bytes())
        expected[key] = "image"
    bad = {
        "low.png": (REFERENCE / "low_confidence.png").read_bytes(),
        "notes.txt": b"plain text, not an image",
        "empty.png": b"",
        "café menu (2) ü.png": (REFERENCE / "7_00017.png").read_bytes(),
        "truncated.png": (REFERENCE / "3_00023.png").read_bytes()[:120],
    }
    for name, body in bad.items():
        s3.put_object(Bucket=bucket, Key=prefix + name, Body=body)
        expected[prefix + name] = name
    return expected


def run(sfn, arn: str, request: dict[str, Any]) -> dict[str, Any]:
    execution = sfn.start_execution(stateMachineArn=arn, input=json.dumps(request))["executionArn"]
    return wait_terminal(sfn, execution, timeout_s=300)


def read_rows(s3, bucket: str, key: str) -> list[dict[str, Any]]:
    body = s3.get_object(Bucket=bucket, Key=key)["Body"].read().decode()
    return [json.loads(line) for line in body.splitlines()]


def test_every_key_has_exactly_one_row_and_the_counts_add_up(sfn, s3, bucket, stack, batch_prefix) -> None:
    prefix = next(iter(batch_prefix)).rsplit("/", 1)[0] + "/"
    described = run(
        sfn, stack["outputs"]["BatchStateMachineArn"], {"bucket": bucket, "prefix": prefix, "batch_size": 16}
    )
    assert described["status"] == "SUCCEEDED", described.get("cause")
    summary = json.loads(described["output"])
    rows = read_rows(s3, bucket, summary["items_key"])
    keys = [r["key"] for r in rows]
    assert sorted(keys) == sorted(batch_prefix), "every listed key exactly once"
    assert len(set(keys)) == len(keys)
    by_key = {r["key"]: r for r in rows}
    assert by_key[prefix + "notes.txt"]["error"] == "NotAnImageError"
    assert by_key[prefix + "empty.png"]["error"] == "EmptyObjectError"
    assert by_key[prefix + "truncated.png"]["error"] == "CorruptImageError"
    assert by_key[prefix + "low.png"]["outcome"] == "low_confidence"
    assert by_key[prefix + "café menu (2) ü.png"]["label"] == "7"
    assert summary["items"] == len(batch_prefix) == sum(summary["outcomes"].values())
    assert summary["outcomes"]["error"] == 3
    assert summary["outcomes"]["confident"] > 0.85 * DEMO_IMAGES
    predictor = LiteRTImagePredictor(ModelBundle(BUNDLE_DIR), num_threads=1)
    images = [k for k, kind in batch_prefix.items() if kind == "image"]
    bodies = [png_image(s3.get_object(Bucket=bucket, Key=k)["Body"].read()) for k in images]
    in_process = dict(zip(images, predictor.predict(bodies), strict=True))
    agree_with_truth = 0
    for key in images:  # the demo split is named <label>_<index>.png: the key knows its label
        row, probabilities = by_key[key], in_process[key]
        assert isinstance(probabilities, list)
        assert row["etag"] and row["label"] == predictor.labels[probabilities.index(max(probabilities))], key
        assert row["confidence"] == pytest.approx(max(probabilities), abs=1e-6), key
        agree_with_truth += row["label"] == key.rsplit("/", 1)[1].split("_", 1)[0]
    assert agree_with_truth >= 0.95 * len(images), "the model's held-out accuracy is 97 %"
    written = json.loads(
        s3.get_object(Bucket=bucket, Key=summary["items_key"].replace("items.jsonl", "summary.json"))["Body"].read()
    )
    assert written == summary
    assert written["bucket"] == bucket and written["prefix"] == prefix
    labels: dict[str, int] = {}
    for r in rows:
        if r["outcome"] == "confident":
            labels[r["label"]] = labels.get(r["label"], 0) + 1
    assert written["labels"] == dict(sorted(labels.items()))
    assert written["errors"] == {"CorruptImageError": 1, "EmptyObjectError": 1, "NotAnImageError": 1}


def test_batch_labels_match_the_single_image_path(sfn, s3, bucket, stack, state_machine) -> None:
    prefix = f"test/same-{uuid.uuid4().hex[:6]}/"
    names = sorted(p.name for p in REFERENCE.glob("*.png"))
    for name in names:
        s3.put_object(Bucket=bucket, Key=prefix + name, Body=(REFERENCE / name).read_bytes())
    described = run(
        sfn, stack["outputs"]["BatchStateMachineArn"], {"bucket": bucket, "prefix": prefix, "batch_size": 8}
    )
    assert described["status"] == "SUCCEEDED", described.get("cause")
    rows = {r["key"]: r for r in read_rows(s3, bucket, json.loads(described["output"])["items_key"])}
    for name in names[:6]:
        single = run(sfn, state_machine, {"s3_bucket": bucket, "s3_key": prefix + name})
        if single["status"] == "SUCCEEDED":
            assert json.loads(single["output"])["label"] == rows[prefix + name]["label"]
        else:
            assert single["error"] == "LowConfidenceError"
            assert rows[prefix + name]["outcome"] == "low_confidence"


def test_failures_beyond_the_tolerance_fail_the_batch_with_a_clear_cause(cloud, sfn, s3, bucket, stack) -> None:
    prefix = f"test/doomed-{uuid.uuid4().hex[:6]}/"
    for i in range(4):
        s3.put_object(Bucket=bucket, Key=f"{prefix}{i}.png", Body=(REFERENCE / "7_00017.png").read_bytes())
    classify = function_name(stack, "ClassifyFunction")
    # Every classify call of this batch fails at the Lambda service, past the ASL's three retries.
    faults = cloud.ctx.state_dir / "faults.json"
    faults.write_text(json.dumps({classify: ["ServiceException"] * 8}))
    try:
        request = {"bucket": bucket, "prefix": prefix, "batch_size": 2, "tolerated_failure_percentage": 0}
        described = run(sfn, stack["outputs"]["BatchStateMachineArn"], request)
    finally:
        faults.unlink(missing_ok=True)
    assert described["status"] == "FAILED"
    assert described["error"] == "BatchToleranceExceededError"
    assert described["cause"] == "2 of 2 child workflows failed, more than the tolerated 0%"


def test_demo_split_is_what_the_model_was_tested_on(tmp_path: Path) -> None:
    files = demo_split(tmp_path)
    assert len(files) == 359
