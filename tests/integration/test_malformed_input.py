"""Every malformed execution input on the local cloud ends with a named error that says what to fix.

Each of these used to end in ``States.Runtime`` with a cause such as ``'Contents'`` or a
Python ``TypeError``, and ``batch_size: 0`` ran as 100.
"""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest

from cloud_helpers import wait_terminal


def run(sfn: Any, arn: str, raw_input: str) -> dict[str, Any]:
    execution = sfn.start_execution(stateMachineArn=arn, input=raw_input)["executionArn"]
    return wait_terminal(sfn, execution, timeout_s=120)


def error_message(described: dict[str, Any]) -> str:
    """The Lambda error's message, from the execution's cause (Lambda's errorMessage JSON)."""
    return str(json.loads(described["cause"])["errorMessage"])


@pytest.mark.parametrize(
    "raw_input",
    ['"s3://bucket/key.png"', "[1, 2]", "null", "42", "{}"],
    ids=["json-string", "array", "null", "number", "empty-object"],
)
def test_the_pipeline_names_an_input_that_is_not_an_object_or_event(sfn, state_machine, raw_input: str) -> None:
    described = run(sfn, state_machine, raw_input)
    assert described["status"] == "FAILED"
    assert described["error"] == "InvalidEventError", described.get("cause")
    assert 'expected a JSON object: {"s3_bucket": "<bucket>", "s3_key": "<key>"}' in error_message(described)


@pytest.fixture(scope="module")
def batch(stack) -> str:
    return str(stack["outputs"]["BatchStateMachineArn"])


@pytest.mark.parametrize(
    ("request_", "says"),
    [
        ('"test/"', "a batch request is a JSON object such as"),
        ("null", "got a JSON null"),
        ('["test/"]', "got a JSON array"),
        ("{}", "bucket: Field required"),
        ({"bucket": "no-such-bucket-anywhere", "prefix": "test/"}, "is not this stack's"),
        ({"prefix": "test/", "batch_size": "ten"}, 'batch_size: Input should be a valid integer (got "ten")'),
        ({"prefix": "test/", "batch_size": 0}, "batch_size: Input should be greater than or equal to 1 (got 0)"),
        ({"prefix": "test/", "batch_size": 2.5}, "batch_size: Input should be a valid integer"),
        ({"prefix": "elsewhere/"}, "prefix 'elsewhere/' is outside what the batch may read"),
        ({"prefix": "test/", "batchsize": 4}, "batchsize: Extra inputs are not permitted"),
    ],
    ids=[
        "json-string", "null", "array", "empty-object", "missing-bucket", "batch-size-not-a-number",
        "batch-size-0", "batch-size-fraction", "prefix-not-readable", "misspelt-field",
    ],
)  # fmt: skip
def test_a_malformed_batch_request_fails_by_name(sfn, batch, bucket, request_: str | dict[str, Any], says) -> None:
    raw = request_ if isinstance(request_, str) else json.dumps({"bucket": bucket, **request_})
    described = run(sfn, batch, raw)
    assert described["status"] == "FAILED"
    assert described["error"] == "InvalidEventError", described.get("cause")
    assert says in error_message(described)
    assert sfn.list_map_runs(executionArn=described["executionArn"])["mapRuns"] == [], "no Map ran"


def test_a_batch_over_an_empty_prefix_succeeds_with_0_items_and_says_so(sfn, s3, batch, bucket) -> None:
    prefix = f"test/nothing-{uuid.uuid4().hex[:6]}/"
    described = run(sfn, batch, json.dumps({"bucket": bucket, "prefix": prefix}))
    assert described["status"] == "SUCCEEDED", described.get("cause")
    summary = json.loads(described["output"])
    assert summary["items"] == 0
    assert summary["outcomes"] == {"confident": 0, "low_confidence": 0, "error": 0}
    assert summary["note"] == f"no objects under s3://{bucket}/{prefix}: nothing to classify"
    results = summary["items_key"].rsplit("/", 1)[0]
    assert s3.get_object(Bucket=bucket, Key=summary["items_key"])["Body"].read() == b""
    assert json.loads(s3.get_object(Bucket=bucket, Key=f"{results}/summary.json")["Body"].read()) == summary


def test_batch_size_is_what_the_request_says(sfn, s3, batch, bucket) -> None:
    """batch_size 1 over three keys is three child workflows (0 used to run as the default)."""
    prefix = f"test/size-{uuid.uuid4().hex[:6]}/"
    for i in range(3):
        s3.put_object(Bucket=bucket, Key=f"{prefix}{i}.txt", Body=b"not an image")
    described = run(sfn, batch, json.dumps({"bucket": bucket, "prefix": prefix, "batch_size": 1}))
    assert described["status"] == "SUCCEEDED", described.get("cause")
    [map_run] = sfn.list_map_runs(executionArn=described["executionArn"])["mapRuns"]
    children = sfn.describe_map_run(mapRunArn=map_run["mapRunArn"])["executionCounts"]
    assert children["total"] == 3
    assert json.loads(described["output"])["errors"] == {"NotAnImageError": 3}
