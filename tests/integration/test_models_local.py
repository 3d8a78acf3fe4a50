"""The FordA and Iris functions on the running local cloud, invoked as their seeds invoked them.

Real Lambda invocations through boto3 (the local cloud's Lambda API, awslambdaric workers),
the captures delivered through the log group's subscription to the compactor and read back
from S3 by the one loader. The HTTP routes on the same functions are in test_models_http.py.
"""

from __future__ import annotations

import json
import time
from typing import Any

import pytest

from cloud_helpers import function_name
from sfn_workbench.capture_reader import load_captures
from support import ROOT

REFERENCE: list[dict[str, Any]] = json.loads((ROOT / "models" / "forda" / "reference" / "series.json").read_text())
SEED_IRIS = {"sl": 6.9, "sw": 3.1, "pl": 5.1, "pw": 2.3}
CAPTURE_BOUND_S = 15.0


def invoke(cloud, stack, logical_id: str, event: Any) -> tuple[dict[str, Any], dict[str, Any]]:
    response = cloud.client("lambda").invoke(FunctionName=function_name(stack, logical_id), Payload=json.dumps(event))
    return response, json.loads(response["Payload"].read())


def seed_forda_event(series: list[list[float]]) -> dict[str, Any]:
    """The seed's lambda_test.py event: the body as JSON text, each series N×500×1."""
    return {"body": json.dumps({"items": [[[v] for v in s] for s in series]})}


def test_forda_answers_one_reference_series_with_its_recorded_class(cloud, stack) -> None:
    for ref in (REFERENCE[0], REFERENCE[-1]):
        response, out = invoke(cloud, stack, "FordaFunction", seed_forda_event([ref["series"]]))
        assert "FunctionError" not in response, out
        assert out["statusCode"] == 200
        assert out["body"]["result"]["Class"] == ref["class"]
        assert out["body"]["result"]["Probabilities"] == pytest.approx(ref["probabilities"], abs=1e-5)


def test_forda_answers_eight_series_in_one_request_in_order(cloud, stack) -> None:
    response, out = invoke(cloud, stack, "FordaFunction", seed_forda_event([r["series"] for r in REFERENCE]))
    assert "FunctionError" not in response, out
    assert [o["result"]["Class"] for o in out["body"]] == [r["class"] for r in REFERENCE]


def test_iris_answers_the_seeds_test_event_as_the_seeds_console_showed(cloud, stack) -> None:
    response, out = invoke(cloud, stack, "IrisFunction", SEED_IRIS)
    assert "FunctionError" not in response, out
    assert out == {"statusCode": 200, "body": "virginica"}


@pytest.mark.parametrize(
    ("logical_id", "event", "error"),
    [
        ("FordaFunction", {"body": json.dumps({"items": [REFERENCE[0]["series"][:100]]})}, "SeriesLengthError"),
        ("FordaFunction", {"body": "{items: oops"}, "BodyNotJsonError"),
        ("FordaFunction", {"items": []}, "EmptyBatchError"),
        ("IrisFunction", {"sl": 6.9, "sw": 3.1, "pl": 5.1}, "MissingFeatureError"),
        ("IrisFunction", {**SEED_IRIS, "sl": "six"}, "NonNumericValueError"),
    ],
)
def test_a_bad_direct_invocation_is_its_named_error_in_lambdas_shape(cloud, stack, logical_id, event, error) -> None:
    response, out = invoke(cloud, stack, logical_id, event)
    assert response["FunctionError"] == "Unhandled"
    assert out["errorType"] == error and out["errorMessage"]


def test_both_functions_inferences_reach_s3_as_sagemaker_captures_the_loader_reads(cloud, stack, bucket) -> None:
    stack_name = stack["name"]
    marker = [v + 1000.0 for v in REFERENCE[2]["series"]]  # a series no other test sends
    invoke(cloud, stack, "FordaFunction", {"items": [marker]})
    odd_flower = {"sl": 5.05, "sw": 3.45, "pl": 1.45, "pw": 0.25}
    invoke(cloud, stack, "IrisFunction", odd_flower)
    s3 = cloud.client("s3")
    labels = {"forda": ["0", "1"], "iris": ["setosa", "versicolor", "virginica"]}
    wanted = {"forda": ({"items": [marker]}, str(REFERENCE[2]["class"])), "iris": (odd_flower, "setosa")}
    deadline = time.monotonic() + CAPTURE_BOUND_S
    found: dict[str, Any] = {}
    while time.monotonic() < deadline and len(found) < 2:
        for name, (request, label) in wanted.items():
            source = f"s3://{bucket}/captures/{stack_name}-{name}/"
            try:
                frame = load_captures(source, labels=labels[name], include_input=True, s3_client=s3)
            except Exception:
                continue
            rows = [row for row in frame.itertuples() if json.loads(row.input_bytes) == request]
            if rows:
                found[name] = rows[0]
                assert rows[0].label == label and rows[0].input_content_type == "application/json"
                assert rows[0].endpoint == f"{stack_name}-{name}"
        time.sleep(0.3)
    assert set(found) == {"forda", "iris"}, f"captures not in S3 within {CAPTURE_BOUND_S} s: found {set(found)}"
