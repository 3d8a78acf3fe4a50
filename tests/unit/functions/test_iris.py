"""The Iris function: ONNX Runtime gives scikit-learn's answers on all 150 rows, the seed's sample is
virginica by POST, GET and direct invocation, and every bad request is a named 400 or 422."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from sfn_inference.adapters.memory import InMemoryObjectStore
from sfn_inference.adapters.onnx import OnnxModel
from sfn_inference.core.errors import MissingFeatureError, NonNumericValueError
from sfn_inference.datacapture.compaction import LogEvent, compact
from sfn_inference.datacapture.logstream import CAPTURE_KEY
from sfn_inference.datacapture.writer import LocalDirectorySink
from sfn_workbench.capture_reader import load_captures
from support import ROOT, load_handler

BUNDLE = ROOT / "models" / "iris"
#: scikit-learn's labels and probabilities for all 150 rows, recorded when the bundle was trained.
ROWS: list[dict[str, Any]] = json.loads((BUNDLE / "reference" / "rows.json").read_text())
FEATURES = ["sl", "sw", "pl", "pw"]
SEED = {"sl": 6.9, "sw": 3.1, "pl": 5.1, "pw": 2.3}
QUERY = {k: str(v) for k, v in SEED.items()}


@pytest.fixture
def iris(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("MODEL_DIR", str(BUNDLE))
    return load_handler("iris")


def http_event(method: str, body: str | None = None, query: dict[str, str] | None = None) -> dict[str, Any]:
    event: dict[str, Any] = {
        "version": "2.0",
        "routeKey": f"{method} /iris/predict",
        "rawPath": "/iris/predict",
        "requestContext": {"http": {"method": method, "path": "/iris/predict"}},
        "isBase64Encoded": False,
    }
    if body is not None:
        event["body"] = body
    if query is not None:
        event["queryStringParameters"] = query
    return event


def call(iris, context, event: dict[str, Any]) -> tuple[int, Any]:
    out = iris.lambda_handler(event, context)
    assert out["headers"]["content-type"] == "application/json"
    return out["statusCode"], json.loads(out["body"])


def test_onnx_runtime_equals_scikit_learn_on_all_150_rows() -> None:
    assert len(ROWS) == 150
    model = OnnxModel(BUNDLE / "model.onnx")
    x = np.array([row["features"] for row in ROWS], dtype=np.float32)
    probabilities = model.run(x)
    labels = (BUNDLE / "labels.txt").read_text().split()
    assert [labels[i] for i in probabilities.argmax(axis=1)] == [row["sklearn_label"] for row in ROWS]
    np.testing.assert_allclose(probabilities, [row["sklearn_probabilities"] for row in ROWS], atol=1e-5)


def test_the_handler_answers_scikit_learns_label_for_every_row(iris, context) -> None:
    for row in ROWS:
        record = dict(zip(FEATURES, row["features"], strict=True))
        assert iris.lambda_handler(record, context)["body"] == row["sklearn_label"], row


def test_the_seeds_sample_is_virginica_by_post_get_and_direct_invocation(iris, context) -> None:
    assert call(iris, context, http_event("POST", json.dumps(SEED))) == (200, "virginica")
    query = {k: str(v) for k, v in SEED.items()}
    assert call(iris, context, http_event("GET", query=query)) == (200, "virginica")
    # The seed's test event and the answer its console showed.
    assert iris.lambda_handler(SEED, context) == {"statusCode": 200, "body": "virginica"}
    assert iris.lambda_handler({k: str(v) for k, v in SEED.items()}, context)["body"] == "virginica"


def test_a_direct_invocation_with_a_bad_record_raises_its_named_error(iris, context) -> None:
    with pytest.raises(MissingFeatureError, match="missing pw"):
        iris.lambda_handler({"sl": 6.9, "sw": 3.1, "pl": 5.1}, context)
    with pytest.raises(NonNumericValueError, match='sl is "six"'):
        iris.lambda_handler({**SEED, "sl": "six"}, context)


@pytest.mark.parametrize(
    ("event", "status", "error"),
    [
        (http_event("POST", "sl=6.9&sw=3.1"), 400, "BodyNotJsonError"),
        (http_event("POST"), 400, "BodyNotJsonError"),
        (http_event("POST", "[6.9, 3.1, 5.1, 2.3]"), 400, "InvalidRequestError"),
        (http_event("POST", json.dumps({"sl": 6.9, "sw": 3.1, "pl": 5.1})), 422, "MissingFeatureError"),
        (http_event("POST", json.dumps({**SEED, "petal": 1})), 422, "UnknownFeatureError"),
        (http_event("POST", json.dumps({**SEED, "sl": "abc"})), 422, "NonNumericValueError"),
        (http_event("POST", '{"sl": NaN, "sw": 3.1, "pl": 5.1, "pw": 2.3}'), 422, "NonFiniteValueError"),
        (http_event("GET", query={"sl": "6.9", "sw": "3.1", "pl": "5.1"}), 422, "MissingFeatureError"),
        (http_event("GET"), 422, "MissingFeatureError"),
        (http_event("GET", query={"sl": "6.9", "sw": "3.1", "pl": "5.1", "pw": "x"}), 422, "NonNumericValueError"),
        # Repeated query parameters reach the function joined by commas.
        (
            http_event("GET", query={"sl": "6.9,7.0", "sw": "3.1", "pl": "5.1", "pw": "2.3"}),
            422,
            "NonNumericValueError",
        ),
    ],
)
def test_every_bad_request_gets_its_status_and_error_name(iris, context, event, status, error) -> None:
    got_status, got = call(iris, context, event)
    assert (got_status, got["error"]) == (status, error), got
    assert got["message"]


def test_capture_records_are_json_and_the_loader_reads_them_with_the_labels(
    monkeypatch: pytest.MonkeyPatch, context, capsys, tmp_path: Path
) -> None:
    monkeypatch.setenv("MODEL_DIR", str(BUNDLE))
    monkeypatch.setenv("CAPTURE_DESTINATION_S3_URI", "s3://bucket/captures")
    monkeypatch.setenv("CAPTURE_ENDPOINT_NAME", "sfn-inference-iris")
    iris = load_handler("iris", store=InMemoryObjectStore())
    capsys.readouterr()
    call(iris, context, http_event("POST", json.dumps(SEED)))
    call(iris, context, http_event("GET", query={"sl": "5.1", "sw": "3.5", "pl": "1.4", "pw": "0.2"}))
    call(iris, context, http_event("GET", query={"sl": "5.1"}))  # refused: nothing is captured
    lines = [line for line in capsys.readouterr().out.splitlines() if CAPTURE_KEY in line]
    assert len(lines) == 2
    for file in compact(LogEvent(str(i), line) for i, line in enumerate(lines)).files:
        LocalDirectorySink(tmp_path).write(file.path, file.body)
    frame = load_captures(tmp_path, labels=iris.deps.bundle.labels, include_input=True)
    assert list(frame["label"]) == ["virginica", "setosa"]
    assert [json.loads(b) for b in frame["input_bytes"]] == [SEED, {"sl": 5.1, "sw": 3.5, "pl": 1.4, "pw": 0.2}]
    assert frame["confidence"].iloc[0] == pytest.approx(0.95, abs=1e-5)
