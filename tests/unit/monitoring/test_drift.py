"""The drift monitor on capture files: quiet on the baseline's own distribution, loud on a shift."""

from __future__ import annotations

import io
import json
import random
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from sfn_inference.adapters.litert import LiteRTImagePredictor
from sfn_inference.adapters.memory import InMemoryObjectStore
from sfn_inference.core.bundle import ModelBundle
from sfn_inference.datacapture.config import DataCaptureConfig
from sfn_inference.datacapture.writer import build_record, capture_path
from sfn_inference.monitoring.checks import Thresholds, psi, thresholds_from
from sfn_inference.monitoring.run import Location, Window, baseline_of, monitor
from sfn_workbench.training.datasets import demo_split
from support import BUNDLE_DIR, png_image

BUCKET = "images"
SOURCE = Location(BUCKET, "captures/litert-in-lambda/AllTraffic/")
OUTPUT = Location(BUCKET, "monitoring/")
END = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
CAPTURE = DataCaptureConfig.parse(
    {
        "InitialSamplingPercentage": 100,
        "DestinationS3Uri": "s3://images/captures",
        "CaptureOptions": [{"CaptureMode": "Input"}, {"CaptureMode": "Output"}],
        "CaptureContentTypeHeader": {"JsonContentTypes": ["application/json"]},
    }
)


@pytest.fixture(scope="module")
def bundle() -> ModelBundle:
    return ModelBundle(BUNDLE_DIR)


@pytest.fixture(scope="module")
def held_out(tmp_path_factory: pytest.TempPathFactory) -> list[tuple[str, bytes]]:
    return [(p.parent.name, p.read_bytes()) for p in demo_split(tmp_path_factory.mktemp("split"))]


def store_captures(bundle: ModelBundle, images: list[bytes], *, minutes: int = 50) -> InMemoryObjectStore:
    """Capture files as the compactor writes them, spread over the last ``minutes`` of the window."""
    store = InMemoryObjectStore()
    results = LiteRTImagePredictor(bundle, num_threads=1).predict([png_image(i) for i in images])
    lines: dict[str, list[bytes]] = {}
    for i, (image, probabilities) in enumerate(zip(images, results, strict=True)):
        assert isinstance(probabilities, list)
        when = END - timedelta(minutes=minutes) + timedelta(seconds=i * minutes * 60 / max(len(images), 1))
        record = build_record(CAPTURE, input_body=image, input_content_type="image/png",
                              output_body=json.dumps(probabilities).encode(), output_content_type="application/json",
                              inference_time=when)  # fmt: skip
        path = capture_path("litert-in-lambda", "AllTraffic", when.replace(minute=0, second=0, microsecond=0), "f")
        lines.setdefault(path, []).append(json.dumps(record).encode() + b"\n")
    for path, body in lines.items():
        store.put(BUCKET, f"captures/{path}", b"".join(body), "application/jsonlines")
    return store


def run(bundle: ModelBundle, store: InMemoryObjectStore) -> dict[str, Any]:
    baseline, constraints = baseline_of(bundle)
    return monitor(store, source=SOURCE, output=OUTPUT, endpoint="litert-in-lambda",
                   window=Window.ending(END, 60), bundle=bundle, baseline=baseline,
                   limits=thresholds_from(constraints))  # fmt: skip


def violated(report: dict[str, Any]) -> set[str]:
    return {c["name"] for c in report["checks"] if c["violated"]}


def test_captures_from_the_baseline_distribution_raise_no_violation(bundle, held_out) -> None:
    sample = random.Random(7).sample([image for _, image in held_out], 200)
    report = run(bundle, store_captures(bundle, sample))
    assert report["status"] == "ok", report["checks"]
    assert report["item_count"] == 200 and report["violations"] == []


def test_one_class_only_is_label_drift(bundle, held_out) -> None:
    sevens = [image for label, image in held_out if label == "7"]
    report = run(bundle, store_captures(bundle, sevens * 3))
    assert report["status"] == "violations"
    assert "label_drift" in violated(report)
    assert any(v["feature_name"] == "label" and v["constraint_check_type"] == "baseline_drift_check"
               for v in report["violations"])  # fmt: skip


def low_contrast(data: bytes) -> bytes:
    image = Image.open(io.BytesIO(data)).convert("RGB")
    faded = Image.blend(Image.new("RGB", image.size, (128, 128, 128)), image, 0.2)
    out = io.BytesIO()
    faded.save(out, "PNG")
    return out.getvalue()


def test_low_contrast_images_shift_the_input_statistics(bundle, held_out) -> None:
    sample = random.Random(3).sample([image for _, image in held_out], 120)
    report = run(bundle, store_captures(bundle, [low_contrast(i) for i in sample]))
    assert report["status"] == "violations"
    assert {"input_std_drift", "input_mean_drift"} & violated(report)


def test_an_empty_window_is_no_data_not_an_error(bundle) -> None:
    store = InMemoryObjectStore()
    report = run(bundle, store)
    assert report["status"] == "no data" and report["item_count"] == 0 and report["violations"] == []
    written = {k for (_, k) in store.objects}
    assert {
        f"monitoring/litert-in-lambda/2026/11/30/12/{n}"
        for n in ("statistics.json", "constraint_violations.json", "report.json")
    } <= written


def test_a_few_records_are_insufficient_data(bundle, held_out) -> None:
    report = run(bundle, store_captures(bundle, [held_out[0][1]] * 5))
    assert report["status"] == "insufficient data" and report["checks"] == []


def test_records_outside_the_window_do_not_count_and_unreadable_lines_are_reported(bundle, held_out) -> None:
    store = store_captures(bundle, [image for _, image in held_out[:40]], minutes=90)  # some before the window
    store.put(BUCKET, "captures/litert-in-lambda/AllTraffic/2026/11/30/11/zz-broken.jsonl", b"{not json\n", "x")
    report = run(bundle, store)
    assert 0 < report["item_count"] < 40
    assert report["unreadable_records"] == 1 and "zz-broken" in report["unreadable_examples"][0]


def test_the_reports_are_model_monitors_formats(bundle, held_out) -> None:
    store = store_captures(bundle, [image for label, image in held_out if label == "1"] * 2)
    run(bundle, store)
    prefix = "monitoring/litert-in-lambda/2026/11/30/12/"
    violations = json.loads(store.get(BUCKET, prefix + "constraint_violations.json"))
    assert set(violations) == {"violations"}
    for v in violations["violations"]:
        assert set(v) == {"feature_name", "constraint_check_type", "description"}
    statistics = json.loads(store.get(BUCKET, prefix + "statistics.json"))
    assert statistics["version"] == 0.0 and statistics["dataset"]["item_count"] > 0
    by_name = {f["name"]: f for f in statistics["features"]}
    assert by_name["label"]["inferred_type"] == "String"
    assert by_name["confidence"]["numerical_statistics"]["distribution"]["kll"]["buckets"]
    constraints = json.loads((Path(bundle.path) / "monitoring" / "constraints.json").read_text())
    assert (
        constraints["monitoring_config"]["distribution_constraints"]["comparison_method"] == "PopulationStabilityIndex"
    )


def test_psi_is_zero_for_equal_distributions_and_grows_with_the_shift() -> None:
    base = {"a": 0.5, "b": 0.5}
    assert psi(base, base) == 0
    assert psi(base, {"a": 0.6, "b": 0.4}) < psi(base, {"a": 0.9, "b": 0.1}) < psi(base, {"a": 1.0})
    assert Thresholds().psi == 0.2
