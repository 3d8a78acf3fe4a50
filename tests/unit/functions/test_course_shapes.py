"""Each function takes what the course's previous step sends ("Scones Unlimited", seeds/004).

The course's serialize, classify and filter answer ``{"statusCode": 200, "body": {...}}``, and
Workflow Studio's default ``OutputPath: $.Payload`` hands that envelope to the next state. Its
serialize sends no ``content_type``, and its classify sends ``inferences`` but no label or
confidence. Ours take all of it, and answer plain JSON.
"""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest

from sfn_inference.adapters.memory import InMemoryObjectStore
from sfn_inference.core.errors import InvalidEventError, LowConfidenceError, NotAnImageError
from support import BUNDLE_DIR, FakeLambdaContext, load_handler

BUCKET = "sfn-inference-images"
KEY = "test/7_00017.png"


def envelope(body: dict[str, Any], *, as_string: bool = False, status: int = 200) -> dict[str, Any]:
    return {"statusCode": status, "body": json.dumps(body) if as_string else body}


def course_serialized(image: bytes) -> dict[str, Any]:
    """The course's serialize answer, as its write-up returns it."""
    return {"image_data": base64.b64encode(image).decode(), "s3_bucket": BUCKET, "s3_key": KEY, "inferences": []}


@pytest.fixture
def serialize(reference_pngs):
    app = load_handler("serialize", store=InMemoryObjectStore())
    app.deps.store.put(BUCKET, KEY, reference_pngs["7_00017.png"], "binary/octet-stream")
    return app


@pytest.fixture
def classify(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("MODEL_DIR", str(BUNDLE_DIR))
    return load_handler("classify", store=InMemoryObjectStore())


@pytest.fixture
def filter_app():
    return load_handler("filter")


@pytest.mark.parametrize(
    "event",
    [
        {"image_data": "", "s3_bucket": BUCKET, "s3_key": KEY},  # generate_test_case()
        envelope({"image_data": "", "s3_bucket": BUCKET, "s3_key": KEY}),
    ],
    ids=["test-case", "in-an-envelope"],
)
def test_serialize_takes_the_courses_test_case(serialize, reference_pngs, context: FakeLambdaContext, event) -> None:
    out = serialize.lambda_handler(event, context)
    assert base64.b64decode(out["image_data"]) == reference_pngs["7_00017.png"]
    assert out["content_type"] == "image/png"


@pytest.mark.parametrize("as_string", [False, True], ids=["body-object", "body-json-string"])
def test_classify_takes_the_courses_serialize_output(classify, reference_pngs, context, as_string: bool) -> None:
    event = envelope(course_serialized(reference_pngs["7_00017.png"]), as_string=as_string)
    out = classify.lambda_handler(event, context)
    assert "statusCode" not in out and "body" not in out  # plain JSON
    assert out["s3_key"] == KEY and out["content_type"] == "image/png"  # sniffed: the course sends none
    assert out["label"] == "7" and out["confidence"] == max(out["inferences"]) > 0.9
    json.dumps(out)


def test_classify_sniffs_what_the_course_calls_image_data(classify, context) -> None:
    event = envelope({**course_serialized(b"not an image at all"), "inferences": []})
    with pytest.raises(NotAnImageError):
        classify.lambda_handler(event, context)


def test_filter_takes_the_courses_classify_output(filter_app, context) -> None:
    inferences = [0.01] * 7 + [0.95, 0.01, 0.01]
    event = envelope({**course_serialized(b"\x89PNG"), "inferences": inferences})
    out = filter_app.lambda_handler(event, context)
    assert out["label"] == "7" and out["confidence"] == 0.95  # the top probability and its index
    assert out["inferences"] == inferences and "statusCode" not in out


def test_filter_fails_the_courses_low_confidence_loudly(filter_app, context) -> None:
    event = envelope({**course_serialized(b"\x89PNG"), "inferences": [0.6, 0.4]})
    with pytest.raises(LowConfidenceError, match=r"confidence 0\.6000 for label '0'"):
        filter_app.lambda_handler(event, context)


def test_our_own_chain_accepts_each_others_plain_output(serialize, classify, filter_app, context) -> None:
    serialized = serialize.lambda_handler({"s3_bucket": BUCKET, "s3_key": KEY}, context)
    classified = classify.lambda_handler(serialized, context)
    assert filter_app.lambda_handler(classified, context) is classified


@pytest.mark.parametrize(
    ("event", "match"),
    [
        (envelope({"s3_bucket": BUCKET}, status=500), "statusCode 500"),
        ({"statusCode": 200, "body": "<html>"}, "not JSON"),
        (envelope({**course_serialized(b""), "inferences": []}), "no answer to check"),
        (envelope({**course_serialized(b""), "inferences": ["high"]}), "list of probabilities"),
    ],
    ids=["failed-envelope", "body-not-json", "no-inferences", "inferences-not-numbers"],
)
def test_filter_names_what_is_wrong_with_a_course_event(filter_app, context, event, match: str) -> None:
    with pytest.raises(InvalidEventError, match=match):
        filter_app.lambda_handler(event, context)


@pytest.mark.parametrize("event", ["just a string", [1, 2], None, 42], ids=["string", "array", "null", "number"])
def test_serialize_says_what_to_send_for_an_input_that_is_not_an_object(serialize, context, event) -> None:
    with pytest.raises(InvalidEventError, match=r'expected a JSON object: \{"s3_bucket"') as info:
        serialize.lambda_handler(event, context)
    assert "got a JSON " + {str: "string", list: "array", type(None): "null", int: "number"}[type(event)] in str(
        info.value
    )
