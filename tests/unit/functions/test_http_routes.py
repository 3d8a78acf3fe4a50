"""The HTTP API's handlers, digits (image bytes) and fashion (an image URL): API Gateway's 2.0 events
in, status codes and JSON out; and the tutorials' own events, invoked directly."""

from __future__ import annotations

import base64
import copy
import io
import json
from typing import Any

import pytest
from PIL import Image

from sfn_inference.adapters.memory import InMemoryObjectStore
from sfn_inference.core.errors import InvalidEventError, UrlRefusedError
from sfn_inference.core.http import MAX_BODY_BYTES
from sfn_inference.datacapture.logstream import CAPTURE_KEY
from support import ROOT, FakeLambdaContext, load_event, load_handler

DIGITS = ROOT / "models" / "digits"
FASHION = ROOT / "models" / "fashion"
CAPTURE_ENV = {"CAPTURE_DESTINATION_S3_URI": "s3://bucket/captures", "CAPTURE_ENDPOINT_NAME": "test-http"}


def http_event(body: bytes, content_type: str | None, route: str = "/digits/predict") -> dict[str, Any]:
    event = copy.deepcopy(load_event("http_api_predict"))
    event["routeKey"] = event["requestContext"]["routeKey"] = f"POST {route}"
    event["rawPath"] = event["requestContext"]["http"]["path"] = f"/Prod{route}"
    headers = event["headers"]
    headers["content-length"] = str(len(body))
    if content_type is None:
        del headers["content-type"]
    else:
        headers["content-type"] = content_type
    text = content_type == "application/json"
    event["body"] = body.decode() if text else base64.b64encode(body).decode()
    event["isBase64Encoded"] = not text
    return event


def call(module: Any, event: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    response = module.lambda_handler(event, FakeLambdaContext())
    return response["statusCode"], json.loads(response["body"])


def png(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, "PNG")
    return buffer.getvalue()


@pytest.fixture
def digits(monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.setenv("MODEL_DIR", str(DIGITS))
    return load_handler("digits", store=InMemoryObjectStore(), env={"MODEL_DIR": str(DIGITS), **CAPTURE_ENV})


@pytest.fixture
def store() -> InMemoryObjectStore:
    store = InMemoryObjectStore()
    for name in ("trouser_00002.png", "sneaker_00009.png"):
        store.put("bucket", f"test/{name}", (FASHION / "reference" / name).read_bytes(), "image/png")
    store.put("bucket", "test/notes.txt", b"not an image", "text/plain")
    return store


@pytest.fixture
def fashion(monkeypatch: pytest.MonkeyPatch, store: InMemoryObjectStore) -> Any:
    monkeypatch.setenv("MODEL_DIR", str(FASHION))
    return load_handler("fashion", store=store, env={"MODEL_DIR": str(FASHION), **CAPTURE_ENV})


# --- digits: image bytes -----------------------------------------------------------------------------
def test_a_posted_png_gets_the_tutorials_value_and_score_and_every_class(digits: Any) -> None:
    expected = json.loads((DIGITS / "reference" / "predictions.json").read_text())["0_00048.png"]
    status, body = call(digits, http_event((DIGITS / "reference" / "0_00048.png").read_bytes(), "image/png"))
    assert status == 200
    assert (body["value"], body["label"]) == (0, "0")
    assert body["score"] == pytest.approx(max(expected), abs=1e-3)
    assert list(body["scores"]) == [str(i) for i in range(10)]
    assert sum(body["scores"].values()) == pytest.approx(1.0)


def test_a_jpeg_is_taken_too(digits: Any) -> None:
    buffer = io.BytesIO()
    Image.open(DIGITS / "reference" / "7_00017.png").convert("RGB").save(buffer, "JPEG", quality=95)
    status, body = call(digits, http_event(buffer.getvalue(), "image/jpeg"))
    assert (status, body["label"]) == (200, "7")


@pytest.mark.parametrize(
    ("body", "content_type", "status", "error"),
    [
        (b"\x89PNG\r\n\x1a\n", "application/octet-stream", 415, "UnsupportedMediaTypeError"),
        (b"\x89PNG\r\n\x1a\n", None, 415, "UnsupportedMediaTypeError"),
        (b"GIF89a not a png", "image/png", 400, "NotAnImageError"),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR truncated", "image/png", 400, "CorruptImageError"),
        (png(Image.new("L", (4097, 4097))), "image/png", 400, "DecompressionBombError"),
        (png(Image.new("L", (200, 10))), "image/png", 400, "IncompatibleImageError"),
        (b"\x89PNG\r\n\x1a\n" + b"\0" * MAX_BODY_BYTES, "image/png", 413, "RequestTooLargeError"),
    ],
)
def test_bad_requests_get_their_status_and_the_errors_name(
    digits: Any, body: bytes, content_type: str | None, status: int, error: str
) -> None:
    got, answer = call(digits, http_event(body, content_type))
    assert (got, answer["error"]) == (status, error)
    assert answer["message"]


def test_an_empty_body_is_a_400(digits: Any) -> None:
    event = http_event(b"", "image/png")
    event.pop("body")
    assert call(digits, event) == (400, {"error": "InvalidEventError", "message": "the request has no body"})


def test_the_tutorials_own_event_invoked_directly(digits: Any) -> None:
    event = load_event("tflite_tutorial_event")
    event["body"] = base64.b64encode((DIGITS / "reference" / "9_00009.png").read_bytes()).decode()
    answer = digits.lambda_handler(event, FakeLambdaContext())
    assert (answer["value"], answer["label"]) == (9, "9")
    with pytest.raises(InvalidEventError, match="isBase64Encoded"):
        digits.lambda_handler({**event, "isBase64Encoded": False}, FakeLambdaContext())


def test_each_answered_request_is_captured_as_it_came(digits: Any, capsys: pytest.CaptureFixture[str]) -> None:
    image = (DIGITS / "reference" / "4_00014.png").read_bytes()
    capsys.readouterr()
    call(digits, http_event(image, "image/png"))
    call(digits, http_event(b"not an image", "image/png"))  # refused: nothing to capture
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.startswith(f'{{"{CAPTURE_KEY}"')]
    [line] = lines
    assert line[CAPTURE_KEY]["endpoint"] == "test-http"
    record = line[CAPTURE_KEY]["record"]["captureData"]
    assert record["endpointInput"]["observedContentType"] == "image/png"
    assert record["endpointInput"]["encoding"] == "BASE64"
    assert base64.b64decode(record["endpointInput"]["data"]) == image
    assert record["endpointOutput"]["encoding"] == "JSON"
    assert len(json.loads(record["endpointOutput"]["data"])) == 10


# --- fashion: an image URL ---------------------------------------------------------------------------
def url_event(url: str | bytes, content_type: str = "application/json") -> dict[str, Any]:
    body = url if isinstance(url, bytes) else json.dumps({"url": url}).encode()
    return http_event(body, content_type, "/fashion/predict")


def test_an_s3_url_is_read_through_the_store_and_answered_with_probabilities(fashion: Any) -> None:
    status, body = call(fashion, url_event("s3://bucket/test/trouser_00002.png"))
    assert (status, body["label"]) == (200, "trouser")
    assert "value" not in body
    assert list(body["scores"]) == (FASHION / "labels.txt").read_text().split()
    assert all(0.0 <= p <= 1.0 for p in body["scores"].values())  # the course answered logits
    assert sum(body["scores"].values()) == pytest.approx(1.0)


@pytest.mark.parametrize(
    ("event", "status", "error"),
    [
        (url_event("file:///etc/passwd"), 422, "UrlRefusedError"),
        (url_event("http://169.254.169.254/latest/meta-data/"), 422, "UrlRefusedError"),
        (url_event("s3://bucket/test/missing.png"), 422, "ObjectNotFoundError"),
        (url_event("s3://bucket/test/notes.txt"), 400, "NotAnImageError"),
        (url_event(b"not json"), 400, "InvalidEventError"),
        (url_event(b'{"link": "s3://bucket/test/trouser_00002.png"}'), 400, "InvalidEventError"),
        (url_event("s3://bucket/test/trouser_00002.png", "text/plain"), 415, "UnsupportedMediaTypeError"),
    ],
)
def test_bad_url_requests_get_their_status_and_the_errors_name(
    fashion: Any, event: dict[str, Any], status: int, error: str
) -> None:
    got, answer = call(fashion, event)
    assert (got, answer["error"]) == (status, error)


def test_the_courses_own_event_invoked_directly(fashion: Any) -> None:
    answer = fashion.lambda_handler({"url": "s3://bucket/test/sneaker_00009.png"}, FakeLambdaContext())
    assert answer["label"] == "sneaker"
    with pytest.raises(UrlRefusedError):
        fashion.lambda_handler({"url": "file:///etc/passwd"}, FakeLambdaContext())


def test_the_url_request_is_captured_without_a_presigned_urls_signature(
    fashion: Any, store: InMemoryObjectStore, capsys: pytest.CaptureFixture[str]
) -> None:
    capsys.readouterr()
    call(fashion, url_event("s3://bucket/test/trouser_00002.png?X-Amz-Signature=secret&versionId=1"))
    [line] = [json.loads(x) for x in capsys.readouterr().out.splitlines() if x.startswith(f'{{"{CAPTURE_KEY}"')]
    captured = line[CAPTURE_KEY]["record"]["captureData"]["endpointInput"]
    assert captured["observedContentType"] == "application/json"
    assert captured["encoding"] == "JSON"
    assert json.loads(captured["data"]) == {
        "url": "s3://bucket/test/trouser_00002.png?X-Amz-Signature=REDACTED&versionId=1"
    }
