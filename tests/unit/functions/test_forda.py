"""The FordA function: LiteRT reproduces the recorded reference probabilities, at N = 1 and N = 8,
answers the seed's request in the seed's shape, and every bad request is a named 400 or 422."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from sfn_inference.adapters.litert import LiteRTModel
from sfn_inference.adapters.memory import InMemoryObjectStore
from sfn_inference.core.errors import EmptyBatchError, SeriesLengthError
from sfn_inference.datacapture.compaction import LogEvent, compact
from sfn_inference.datacapture.logstream import CAPTURE_KEY
from sfn_inference.datacapture.writer import LocalDirectorySink
from sfn_workbench.capture_reader import load_captures
from support import ROOT, load_handler

BUNDLE = ROOT / "models" / "forda"
REFERENCE: list[dict[str, Any]] = json.loads((BUNDLE / "reference" / "series.json").read_text())
#: LiteRT against its own recorded output (rounded to 8 places), and z-normalising again (float32).
ATOL = 1e-5


@pytest.fixture
def forda(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("MODEL_DIR", str(BUNDLE))
    return load_handler("forda")


def http_event(body: Any, method: str = "POST", raw: str | None = None) -> dict[str, Any]:
    """What API Gateway's HTTP API (payload 2.0) hands the function."""
    return {
        "version": "2.0",
        "routeKey": f"{method} /forda/predict",
        "rawPath": "/forda/predict",
        "headers": {"content-type": "application/json"},
        "requestContext": {"http": {"method": method, "path": "/forda/predict"}},
        "body": raw if raw is not None else json.dumps(body),
        "isBase64Encoded": False,
    }


def call(forda, context, body: Any = None, raw: str | None = None) -> tuple[int, Any]:
    out = forda.lambda_handler(http_event(body, raw=raw), context)
    assert out["headers"]["content-type"] == "application/json"
    return out["statusCode"], json.loads(out["body"])


def as_seed_sends(series: list[float]) -> list[list[float]]:
    """The seed's N×500×1 layout: each time step a one-element list."""
    return [[v] for v in series]


def test_one_reference_series_gets_its_recorded_class_and_probabilities(forda, context) -> None:
    for ref in REFERENCE:
        status, body = call(forda, context, {"items": [as_seed_sends(ref["series"])]})
        assert status == 200
        assert body["result"]["Class"] == ref["class"]
        np.testing.assert_allclose(body["result"]["Probabilities"], ref["probabilities"], atol=ATOL)


def test_eight_series_in_one_request_get_the_recorded_answers_in_order(forda, context) -> None:
    status, body = call(forda, context, {"items": [ref["series"] for ref in REFERENCE]})
    assert status == 200 and isinstance(body, list) and len(body) == 8
    assert [b["result"]["Class"] for b in body] == [ref["class"] for ref in REFERENCE]
    np.testing.assert_allclose(
        [b["result"]["Probabilities"] for b in body], [ref["probabilities"] for ref in REFERENCE], atol=ATOL
    )


def test_the_raw_litert_model_matches_the_recorded_probabilities_at_batch_1_and_8() -> None:
    model = LiteRTModel(BUNDLE / "model.tflite", num_threads=1)
    x = np.array([ref["series"] for ref in REFERENCE], dtype=np.float32)[..., None]
    expected = np.array([ref["probabilities"] for ref in REFERENCE])
    np.testing.assert_allclose(model.run(x), expected, atol=ATOL)
    np.testing.assert_allclose(np.concatenate([model.run(x[i : i + 1]) for i in range(8)]), expected, atol=ATOL)


def test_serving_z_normalises_as_training_did(forda, context) -> None:
    """A series in raw units (scaled and shifted) is the same wave to the model."""
    ref = REFERENCE[3]
    raw = [v * 250.0 + 1000.0 for v in ref["series"]]
    _, body = call(forda, context, {"items": [raw]})
    np.testing.assert_allclose(body["result"]["Probabilities"], ref["probabilities"], atol=1e-4)


def test_the_seeds_direct_invocation_event_and_answer(forda, context) -> None:
    """The seed's handler read json.loads(event["body"])["items"] and returned a body that is not a string."""
    ref = REFERENCE[5]
    out = forda.lambda_handler({"body": json.dumps({"items": [as_seed_sends(ref["series"])]})}, context)
    assert out["statusCode"] == 200 and out["body"]["result"]["Class"] == ref["class"]
    assert forda.lambda_handler({"items": [ref["series"]]}, context)["body"]["result"]["Class"] == ref["class"]
    with pytest.raises(SeriesLengthError, match="the model takes exactly 500"):
        forda.lambda_handler({"items": [ref["series"][:-1]]}, context)
    with pytest.raises(EmptyBatchError):
        forda.lambda_handler({"body": '{"items": []}'}, context)


GOOD = REFERENCE[0]["series"]


@pytest.mark.parametrize(
    ("body", "raw", "status", "error"),
    [
        (None, "not json", 400, "BodyNotJsonError"),
        (None, "", 400, "BodyNotJsonError"),
        ({"item": [GOOD]}, None, 400, "InvalidRequestError"),
        ({"items": GOOD}, None, 400, "InvalidRequestError"),
        ({"items": []}, None, 422, "EmptyBatchError"),
        ({"items": [GOOD] * 257}, None, 422, "BatchTooLargeError"),
        ({"items": [GOOD, GOOD[:499]]}, None, 422, "RaggedBatchError"),
        ({"items": [GOOD[:499]]}, None, 422, "SeriesLengthError"),
        ({"items": [[*GOOD[:499], "x"]]}, None, 422, "NonNumericValueError"),
        (None, json.dumps({"items": [[*GOOD[:499], math.nan]]}), 422, "NonFiniteValueError"),
        (None, '{"items": [[' + "1," * 499 + "Infinity]]}", 422, "NonFiniteValueError"),
    ],
)
def test_every_bad_request_gets_its_status_and_error_name(forda, context, body, raw, status, error) -> None:
    got_status, got = call(forda, context, body, raw)
    assert (got_status, got["error"]) == (status, error), got
    assert got["message"]


def test_capture_records_are_json_and_the_loader_reads_them_with_the_labels(
    monkeypatch: pytest.MonkeyPatch, context, capsys, tmp_path: Path
) -> None:
    monkeypatch.setenv("MODEL_DIR", str(BUNDLE))
    monkeypatch.setenv("CAPTURE_DESTINATION_S3_URI", "s3://bucket/captures")
    monkeypatch.setenv("CAPTURE_ENDPOINT_NAME", "sfn-inference-forda")
    forda = load_handler("forda", store=InMemoryObjectStore())
    capsys.readouterr()
    call(forda, context, {"items": [ref["series"] for ref in REFERENCE[:3]]})
    call(forda, context, {"items": [REFERENCE[3]["series"][:10]]})  # refused: nothing is captured
    lines = [line for line in capsys.readouterr().out.splitlines() if CAPTURE_KEY in line]
    assert len(lines) == 3, "one record per answered series"
    compaction = compact(LogEvent(str(i), line) for i, line in enumerate(lines))
    for file in compaction.files:
        LocalDirectorySink(tmp_path).write(file.path, file.body)
    frame = load_captures(tmp_path, labels=forda.deps.bundle.labels, include_input=True)
    assert list(frame["endpoint"].unique()) == ["sfn-inference-forda"]
    assert list(frame["label"]) == [str(ref["class"]) for ref in REFERENCE[:3]]
    assert list(frame["input_content_type"].unique()) == ["application/json"]
    assert [json.loads(b) for b in frame["input_bytes"]] == [{"items": [ref["series"]]} for ref in REFERENCE[:3]]
    record = json.loads(lines[0])[CAPTURE_KEY]["record"]["captureData"]
    assert record["endpointInput"]["encoding"] == record["endpointOutput"]["encoding"] == "JSON"
