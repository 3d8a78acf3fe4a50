"""The handlers' metrics (Powertools EMF): inferences, confidence, labels, errors by name, the model's version."""

from __future__ import annotations

import json
from typing import Any

import pytest

from sfn_inference.adapters.memory import InMemoryObjectStore
from sfn_inference.core.bundle import ModelBundle
from sfn_inference.core.errors import CorruptImageError, LowConfidenceError
from sfn_inference.core.messages import encode_inline
from support import BUNDLE_DIR, load_event, load_handler


def emf(out: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in out.splitlines() if line.startswith("{") and '"_aws"' in line]


def metric_names(blob: dict[str, Any]) -> set[str]:
    return {m["Name"] for d in blob["_aws"]["CloudWatchMetrics"] for m in d["Metrics"]}


@pytest.fixture
def classify(monkeypatch):
    monkeypatch.setenv("MODEL_DIR", str(BUNDLE_DIR))
    return load_handler("classify", store=InMemoryObjectStore())


def payload(data: bytes) -> dict[str, Any]:
    return {"s3_bucket": "b", "s3_key": "k.png", "content_type": "image/png", "image_data": encode_inline(data)}


def test_an_inference_emits_its_count_confidence_label_and_the_models_version(
    classify, reference_pngs, context, capsys
) -> None:
    out = classify.lambda_handler(payload(reference_pngs["3_00023.png"]), context)
    blobs = emf(capsys.readouterr().out)
    main = next(b for b in blobs if "Inferences" in metric_names(b))
    assert main["Inferences"] == [1.0] and main["Confidence"] == [pytest.approx(out["confidence"])]
    assert main["ModelLatency"][0] > 0
    bundle = ModelBundle(BUNDLE_DIR)
    assert (main["Model"], main["ModelVersion"]) == ("digits", bundle.version)
    [per_label] = [b for b in blobs if "Predictions" in metric_names(b)]
    assert (
        per_label["Label"] == "3" and per_label["Predictions"] == [1.0] and per_label["ModelVersion"] == bundle.version
    )


def test_a_named_error_is_counted_by_its_name(classify, reference_pngs, context, capsys) -> None:
    with pytest.raises(CorruptImageError):
        classify.lambda_handler(payload(reference_pngs["4_00014.png"][:200]), context)
    [errors] = [b for b in emf(capsys.readouterr().out) if "Errors" in metric_names(b)]
    assert errors["ErrorName"] == "CorruptImageError" and errors["Errors"] == [1.0]


def test_a_batch_counts_each_inference_and_each_error_row(classify, reference_pngs, context, capsys) -> None:
    items = [payload(reference_pngs["3_00023.png"]), payload(reference_pngs["7_00017.png"]),
             payload(b"\x89PNG\r\n\x1a\n" + b"\0" * 30)]  # fmt: skip
    classify.lambda_handler({"mode": "batch", "bucket": "b", "items": items}, context)
    blobs = emf(capsys.readouterr().out)
    main = next(b for b in blobs if "Inferences" in metric_names(b))
    assert main["Inferences"] == [1.0, 1.0]
    assert sorted(b["Label"] for b in blobs if "Predictions" in metric_names(b)) == ["3", "7"]
    assert [b["ErrorName"] for b in blobs if "Errors" in metric_names(b)] == ["CorruptImageError"]


def test_filter_counts_low_confidence(context, capsys) -> None:
    with pytest.raises(LowConfidenceError):
        load_handler("filter").lambda_handler(load_event("classified_low_confidence"), context)
    blobs = emf(capsys.readouterr().out)
    assert any(b.get("LowConfidence") == [1.0] for b in blobs)
    assert any(b.get("ErrorName") == "LowConfidenceError" for b in blobs)


def test_the_http_model_functions_count_their_inferences_and_errors(monkeypatch, context, capsys) -> None:
    from sfn_inference.core.errors import SeriesLengthError

    forda = load_handler("forda")
    series = json.loads((BUNDLE_DIR.parent / "forda" / "reference" / "series.json").read_text())
    forda.lambda_handler({"items": [series[0]["series"], series[1]["series"]]}, context)
    blobs = emf(capsys.readouterr().out)
    assert next(b for b in blobs if "Inferences" in metric_names(b))["Inferences"] == [1.0, 1.0]
    with pytest.raises(SeriesLengthError):  # invoked directly, the named error is the function's error
        forda.lambda_handler({"items": [[0.0] * 7]}, context)
    assert [b["ErrorName"] for b in emf(capsys.readouterr().out) if "Errors" in metric_names(b)] == [
        "SeriesLengthError"
    ]
