import base64
import io
import json
import math
import re

import numpy as np
import pytest
from PIL import Image

from sfn_inference.adapters.litert import LiteRTImagePredictor
from sfn_inference.adapters.memory import InMemoryObjectStore
from sfn_inference.core.bundle import ModelBundle
from sfn_inference.core.errors import (
    CorruptImageError,
    DecompressionBombError,
    IncompatibleImageError,
    InvalidEventError,
    NotAnImageError,
    PredictionError,
)
from sfn_inference.core.messages import BatchEvent, ImagePayload, encode_inline
from sfn_inference.core.predictions import as_probabilities, probability_rows
from sfn_inference.core.stages import classify_batch, classify_one
from support import BUNDLE_DIR, FakeLambdaContext, load_handler, png_image


@pytest.fixture(scope="module")
def bundle() -> ModelBundle:
    return ModelBundle(BUNDLE_DIR)


@pytest.fixture(scope="module")
def predictor(bundle: ModelBundle) -> LiteRTImagePredictor:
    return LiteRTImagePredictor(bundle, num_threads=1)


@pytest.fixture
def classify(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("MODEL_DIR", str(BUNDLE_DIR))
    return load_handler("classify", store=InMemoryObjectStore())


def payload(data: bytes, key: str = "incoming/x.png") -> dict[str, object]:
    return {
        "s3_bucket": "b",
        "s3_key": key,
        "content_type": "image/png",
        "image_data": encode_inline(data),
        "inferences": [],
    }


def png(image: Image.Image, fmt: str = "PNG") -> bytes:
    buf = io.BytesIO()
    image.save(buf, fmt)
    return buf.getvalue()


def test_litert_agrees_with_the_training_runs_recorded_predictions(
    bundle: ModelBundle, predictor: LiteRTImagePredictor, reference_pngs: dict[str, bytes]
) -> None:
    recorded = bundle.reference_predictions
    assert set(recorded) == set(reference_pngs), "every reference PNG has a recorded prediction"
    names = sorted(recorded)
    got = predictor.predict([png_image(reference_pngs[n]) for n in names])
    for name, probs in zip(names, got, strict=True):
        assert isinstance(probs, list), probs
        np.testing.assert_allclose(probs, recorded[name], atol=1e-4, err_msg=name)
        assert np.argmax(probs) == np.argmax(recorded[name]), name


def test_handler_adds_label_confidence_and_probabilities(classify, reference_pngs, context: FakeLambdaContext) -> None:
    event = payload(reference_pngs["3_00023.png"])
    out = classify.lambda_handler(event, context)
    assert out["label"] == "3"
    assert out["confidence"] == max(out["inferences"]) > 0.99
    assert math.isclose(sum(out["inferences"]), 1.0, abs_tol=1e-9)
    assert {k: out[k] for k in event if k != "inferences"} == {k: v for k, v in event.items() if k != "inferences"}
    json.dumps(out)


def test_jpeg_is_decoded(classify, reference_pngs, context) -> None:
    jpeg = png(Image.open(io.BytesIO(reference_pngs["0_00048.png"])), "JPEG")
    out = classify.lambda_handler({**payload(jpeg), "content_type": "image/jpeg"}, context)
    assert out["label"] == "0"


def test_reference_payload_reads_the_image_from_the_store(classify, reference_pngs, context) -> None:
    classify.deps.store.put("b", "incoming/big.png", reference_pngs["9_00009.png"], "image/png")
    event = {"s3_bucket": "b", "s3_key": "incoming/big.png", "content_type": "image/png", "transport": "reference"}
    assert classify.lambda_handler(event, context)["label"] == "9"


def test_the_model_is_built_once_per_environment_not_per_invocation(classify, reference_pngs, context) -> None:
    predictor = classify.deps.predictor
    for name in ("1_00056.png", "2_00012.png"):
        classify.lambda_handler(payload(reference_pngs[name]), context)
    assert classify.deps.predictor is predictor


def test_a_batch_gives_the_same_answers_as_one_at_a_time(predictor, reference_pngs) -> None:
    store = InMemoryObjectStore()
    items = [payload(data, name) for name, data in reference_pngs.items()]
    batch = classify_batch(BatchEvent(mode="batch", bucket="b", items=items), store, predictor)
    single = [classify_one(ImagePayload.model_validate(p), store, predictor) for p in items]
    assert [r["label"] for r in batch] == [r.label for r in single]
    np.testing.assert_allclose([r["inferences"] for r in batch], [r.inferences for r in single], atol=1e-6)


def truncated_png(reference_pngs: dict[str, bytes]) -> bytes:
    data = reference_pngs["4_00014.png"]
    return data[: len(data) // 2]


def bomb_png() -> bytes:
    """A 5000 x 5000 PNG: a few KB on disk, 75 MB decoded."""
    return png(Image.new("L", (5000, 5000)))


@pytest.mark.parametrize(
    ("make", "error"),
    [
        (lambda refs: b"this is not an image", NotAnImageError),
        (truncated_png, CorruptImageError),
        (lambda refs: b"\x89PNG\r\n\x1a\n" + b"\0" * 50, CorruptImageError),
        (lambda refs: bomb_png(), DecompressionBombError),
        (lambda refs: png(Image.new("RGB", (4, 4))), IncompatibleImageError),
        (lambda refs: png(Image.new("RGB", (400, 20))), IncompatibleImageError),
    ],
    ids=["not-an-image", "truncated-png", "garbage-after-signature", "decompression-bomb", "too-small", "sliver"],
)
def test_bad_images_get_named_errors(classify, reference_pngs, context, make, error) -> None:
    with pytest.raises(error):
        classify.lambda_handler(payload(make(reference_pngs)), context)


@pytest.mark.parametrize(
    "event",
    [
        {},
        {"s3_bucket": "b", "s3_key": "k", "content_type": "image/png", "image_data": "%%% not base64"},
        {"s3_bucket": "b", "s3_key": "k", "content_type": "image/png"},
    ],
    ids=["empty", "bad-base64", "no-image-and-not-a-reference"],
)
def test_bad_events_get_invalid_event_error(classify, context, event) -> None:
    with pytest.raises(InvalidEventError):
        classify.lambda_handler(event, context)


def test_grayscale_and_palette_images_are_converted(predictor, reference_pngs) -> None:
    rgb = Image.open(io.BytesIO(reference_pngs["6_00016.png"]))
    for image in (rgb.convert("L"), rgb.convert("P"), rgb.convert("RGBA")):
        probs = predictor.predict([png_image(png(image))])[0]
        assert int(np.argmax(probs)) == 6, image.mode


@pytest.mark.parametrize(
    ("values", "match"),
    [
        ([0.5, 0.5], "expected 3"),
        ([0.5, 0.6, -0.1], "non-negative"),
        ([0.2, 0.2, 0.2], "sum"),
        ([float("nan"), 1, 0], "finite"),
    ],
)
def test_probability_vectors_are_checked(values: list[float], match: str) -> None:
    with pytest.raises(PredictionError, match=match):
        as_probabilities(values, 3)
    for good_rows in (1, 9):  # a short loop, and the whole matrix at once
        matrix = np.array([[0.2, 0.3, 0.5]] * good_rows + [values if len(values) == 3 else [0.5, 0.5, 0.5]])
        *good, bad = probability_rows(matrix, 3 if len(values) == 3 else 2)
        if len(values) == 3:  # the bad row is that row's error, the good ones their probabilities
            assert all(row == pytest.approx([0.2, 0.3, 0.5], abs=1e-12) for row in good)
            assert isinstance(bad, PredictionError) and re.search(match, str(bad))
        else:  # a model whose output is wider than its labels: every row says so
            assert all(re.search(match.replace("3", "2"), str(row)) for row in [*good, bad])


def test_base64_helper_matches_the_stdlib() -> None:
    assert encode_inline(b"\x00\xffabc") == base64.b64encode(b"\x00\xffabc").decode()
