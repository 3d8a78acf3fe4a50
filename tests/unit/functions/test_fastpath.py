"""classify's plain-dict fast path answers every event exactly as the pydantic models' path does.

Each event goes through both: :func:`fastpath.classify_event` and the stages on the models
(what the handler ran before). Same answer, or the same named error with the same message.
"""

from __future__ import annotations

import copy
from typing import Any

import pytest

from sfn_inference.adapters.litert import LiteRTImagePredictor
from sfn_inference.adapters.memory import InMemoryObjectStore
from sfn_inference.core import fastpath
from sfn_inference.core.bundle import ModelBundle
from sfn_inference.core.errors import SfnInferenceError
from sfn_inference.core.messages import BatchEvent, ImagePayload, encode_inline, is_batch, parse_model, unwrap_envelope
from sfn_inference.core.stages import classify_batch, classify_one
from support import BUNDLE_DIR


@pytest.fixture(scope="module")
def predictor() -> LiteRTImagePredictor:
    return LiteRTImagePredictor(ModelBundle(BUNDLE_DIR), num_threads=1)


@pytest.fixture
def store(reference_pngs) -> InMemoryObjectStore:
    store = InMemoryObjectStore()
    store.put("b", "big/9.png", reference_pngs["9_00009.png"], "image/png")
    return store


def with_models(event: Any, store, predictor) -> dict[str, Any]:
    """What the handler did before the fast path: every event through the pydantic models."""
    if is_batch(event):
        return {**event, "items": classify_batch(parse_model(BatchEvent, event), store, predictor)}
    event = unwrap_envelope(event)
    result = classify_one(parse_model(ImagePayload, event), store, predictor)
    return {**event, **result.model_dump(include={"content_type", "inferences", "label", "confidence"})}


def outcome(run, event: Any) -> Any:
    try:
        return run(copy.deepcopy(event))
    except SfnInferenceError as exc:
        return (type(exc).__name__, str(exc))


def payload(png: bytes, **more: Any) -> dict[str, Any]:
    base = {"s3_bucket": "b", "s3_key": "test/x.png", "content_type": "image/png", "image_data": encode_inline(png)}
    return {**base, **more}


def single_events(refs: dict[str, bytes]) -> dict[str, Any]:
    seven = refs["7_00017.png"]
    return {
        "serialize's output": payload(seven, transport="inline", size_bytes=len(seven), etag="e"),
        "minimal": payload(seven),
        "course (no content type, inferences)": {**payload(seven, inferences=[]), "content_type": None},
        "with extras": payload(seven, request_id="abc", nested={"a": 1}),
        "by reference": {"s3_bucket": "b", "s3_key": "big/9.png", "transport": "reference", "content_type": None},
        "bad base64": payload(seven, image_data="%%%"),
        "empty image": payload(b""),
        "not an image": payload(b"hello there"),
        "jpeg bytes labelled png": payload(b"\xff\xd8\xff\xe0garbage"),
        "missing image, not a reference": {"s3_bucket": "b", "s3_key": "k"},
        "reference to nothing": {"s3_bucket": "b", "s3_key": "missing.png", "transport": "reference"},
        "empty bucket": payload(seven, s3_bucket=""),
        "bucket a number": payload(seven, s3_bucket=7),
        "size as text": payload(seven, size_bytes="12"),
        "size a bool": payload(seven, size_bytes=True),
        "unknown transport": payload(seven, transport="carrier pigeon"),
        "inferences not a list": payload(seven, inferences="0.5"),
        "inferences with ints": payload(seven, inferences=[1, 0]),
        "inferences with text": payload(seven, inferences=["x"]),
        "an earlier label": payload(seven, label="3", confidence=0.5),
        "a threshold": payload(seven, confidence_threshold=0.5),
        "a bad threshold": payload(seven, confidence_threshold=5),
        "a mode that is not batch": payload(seven, mode="single"),
        "envelope": {"statusCode": 200, "body": payload(seven)},
        "envelope as text": {"statusCode": 200, "body": '{"s3_bucket": "b"}'},
        "not an object": [1, 2],
        "null": None,
    }


def batch_events(refs: dict[str, bytes]) -> dict[str, Any]:
    items = [
        payload(refs["7_00017.png"], transport="inline", size_bytes=3, etag="e1"),
        payload(refs["3_00023.png"], s3_key="test/3.png"),
        {"s3_bucket": "b", "s3_key": "big/9.png", "transport": "reference", "etag": "e9"},
        payload(b"not an image", s3_key="test/notes.txt", etag="en"),
        payload(b"", s3_key="test/empty.png", content_type=None),
        payload(refs["7_00017.png"], image_data="%%%", etag="eb"),
        {"key": "test/gone.png", "etag": "g", "outcome": "error", "error": "ObjectNotFoundError", "cause": "gone"},
    ]
    base = {"mode": "batch", "bucket": "b", "items": items}
    return {
        "mixed batch": base,
        "with a threshold": {**base, "confidence_threshold": 0.5},
        "an int threshold": {**base, "confidence_threshold": 1},
        "a bad threshold": {**base, "confidence_threshold": 0},
        "extras on the batch": {**base, "note": "x"},
        "extras on an item": {**base, "items": [*items, payload(refs["1_00056.png"], extra="x")]},
        "an item not an object": {**base, "items": [*items, "nope"]},
        "an item with a bad type": {**base, "items": [*items, payload(refs["1_00056.png"], s3_key=3)]},
        "no bucket": {"mode": "batch", "items": items},
        "empty": {"mode": "batch", "bucket": "b", "items": []},
    }


def test_every_single_image_event_gets_the_models_answer(store, predictor, reference_pngs) -> None:
    for name, event in single_events(reference_pngs).items():
        fast = outcome(lambda e: fastpath.classify_event(e, store, predictor), event)
        slow = outcome(lambda e: with_models(e, store, predictor), event)
        assert fast == slow, name


def test_every_batch_event_gets_the_models_answer(store, predictor, reference_pngs) -> None:
    for name, event in batch_events(reference_pngs).items():
        fast = outcome(lambda e: fastpath.classify_event(e, store, predictor), event)
        slow = outcome(lambda e: with_models(e, store, predictor), event)
        assert fast == slow, name
        if isinstance(fast, dict):  # the same keys in the same order, as the JSON is written
            assert [list(i) for i in fast["items"]] == [list(i) for i in slow["items"]], name


def test_the_canonical_shapes_take_the_fast_path(reference_pngs) -> None:
    singles, batches = single_events(reference_pngs), batch_events(reference_pngs)
    fast = {name for name, event in singles.items() if fastpath.canonical_payload(event)}
    assert {"serialize's output", "minimal", "course (no content type, inferences)", "by reference"} <= fast
    assert fastpath.canonical_batch(batches["mixed batch"]) and fastpath.canonical_batch(batches["empty"])
    assert not fastpath.canonical_batch(batches["extras on an item"])
