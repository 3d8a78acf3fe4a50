import base64
import io
import json
import zlib

import pytest
from PIL import Image

from sfn_inference.adapters.memory import InMemoryObjectStore
from sfn_inference.core.errors import EmptyObjectError, NotAnImageError, ObjectNotFoundError
from sfn_inference.core.messages import MAX_INLINE_BYTES, STATE_LIMIT_BYTES
from support import FakeLambdaContext, load_event, load_handler

BUCKET = "sfn-inference-images"


@pytest.fixture
def serialize():
    return load_handler("serialize", store=InMemoryObjectStore())


def png_of_size(min_bytes: int) -> bytes:
    """A valid PNG padded with an ancillary chunk to at least ``min_bytes``."""
    buf = io.BytesIO()
    Image.new("RGB", (32, 32), "white").save(buf, "PNG")
    data = buf.getvalue()
    pad = max(0, min_bytes - len(data) - 12)
    chunk = b"zPAD" + b"\0" * pad
    body = pad.to_bytes(4, "big") + chunk + zlib.crc32(chunk).to_bytes(4, "big")
    return data[:-12] + body + data[-12:]


def test_base64_round_trip(serialize, reference_pngs: dict[str, bytes], context: FakeLambdaContext) -> None:
    original = reference_pngs["7_00017.png"]
    serialize.deps.store.put(BUCKET, "test/7/00017.png", original, "binary/octet-stream")
    out = serialize.lambda_handler(load_event("test_case"), context)
    assert set(out) >= {"s3_bucket", "s3_key", "content_type", "image_data", "inferences"}
    assert out["content_type"] == "image/png"  # sniffed, not the S3 octet-stream header
    assert out["inferences"] == []
    assert isinstance(out["image_data"], str)
    assert base64.b64decode(out["image_data"]) == original
    json.dumps(out)  # plain JSON, no bytes


def test_eventbridge_key_is_decoded_before_the_get(serialize, reference_pngs, context) -> None:
    serialize.deps.store.put(BUCKET, "incoming/red flower.png", reference_pngs["0_00048.png"], "image/png")
    out = serialize.lambda_handler(load_event("eventbridge_object_created"), context)
    assert out["s3_key"] == "incoming/red flower.png"


def test_large_object_travels_by_reference(serialize, context) -> None:
    big = png_of_size(MAX_INLINE_BYTES + 1)
    serialize.deps.store.put(BUCKET, "test/big.png", big, "image/png")
    out = serialize.lambda_handler({"s3_bucket": BUCKET, "s3_key": "test/big.png"}, context)
    assert out["transport"] == "reference"
    assert "image_data" not in out
    assert out["size_bytes"] == len(big)


def test_largest_inline_object_stays_under_the_state_limit(serialize, context) -> None:
    data = png_of_size(MAX_INLINE_BYTES)
    assert len(data) == MAX_INLINE_BYTES
    key = "incoming/" + "k" * 1000  # S3's longest key, on top of the largest inline image
    serialize.deps.store.put(BUCKET, key, data, "image/png")
    out = serialize.lambda_handler({"s3_bucket": BUCKET, "s3_key": key}, context)
    assert out["transport"] == "inline"
    # classify adds 10 probabilities, a label and a confidence; the Lambda task result wraps it.
    classified = {**out, "inferences": [0.1] * 10, "label": "digit-9", "confidence": 0.123456789}
    task_result = {
        "ExecutedVersion": "$LATEST",
        "Payload": classified,
        "SdkHttpMetadata": {"x": "y" * 2000},
        "StatusCode": 200,
    }
    assert len(json.dumps(task_result).encode()) < STATE_LIMIT_BYTES


@pytest.mark.parametrize(
    ("body", "error"),
    [(b"", EmptyObjectError), (b"GIF89a not ours", NotAnImageError), (b"%PDF-1.7", NotAnImageError)],
)
def test_bad_objects_get_named_errors(serialize, context, body: bytes, error: type[Exception]) -> None:
    serialize.deps.store.put(BUCKET, "incoming/x.png", body, "image/png")
    with pytest.raises(error):
        serialize.lambda_handler({"s3_bucket": BUCKET, "s3_key": "incoming/x.png"}, context)


def test_missing_object(serialize, context) -> None:
    with pytest.raises(ObjectNotFoundError, match=r"incoming/nope\.png"):
        serialize.lambda_handler({"s3_bucket": BUCKET, "s3_key": "incoming/nope.png"}, context)


def test_a_key_with_a_literal_plus_is_found_when_the_event_did_not_encode_it(
    serialize, reference_pngs, context
) -> None:
    serialize.deps.store.put(BUCKET, "incoming/c++ notes.png", reference_pngs["0_00048.png"], "image/png")
    event = load_event("eventbridge_object_created")
    event["detail"]["object"]["key"] = "incoming/c++ notes.png"  # as-is, not URL-encoded
    assert serialize.lambda_handler(event, context)["s3_key"] == "incoming/c++ notes.png"
