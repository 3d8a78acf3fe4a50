"""core.http: the one mapping from named errors to status codes, request decoding, answers."""

from __future__ import annotations

import base64
import inspect

import pytest

from sfn_inference.core import errors
from sfn_inference.core.http import (
    MAX_BODY_BYTES,
    STATUS_OF,
    answer,
    body_bytes,
    error_body,
    is_http_api_event,
    media_type,
    parse_url_request,
    require_media_type,
    status_for,
    tutorial_image,
)
from sfn_inference.core.predictions import Prediction

EXPECTED = {
    "InvalidEventError": 400,
    "EmptyObjectError": 400,
    "NotAnImageError": 400,
    "CorruptImageError": 400,
    "DecompressionBombError": 400,
    "IncompatibleImageError": 400,
    "RequestTooLargeError": 413,
    "ObjectTooLargeError": 413,
    "PayloadTooLargeError": 413,
    "UnsupportedMediaTypeError": 415,
    "UrlRefusedError": 422,
    "UrlFetchError": 422,
    "UrlTimeoutError": 422,
    "UrlTooLargeError": 422,
    "ObjectNotFoundError": 422,
    # The series and tabular routes: a request that cannot be read, values the model does not take.
    "RequestError": 400,
    "BodyNotJsonError": 400,
    "InvalidRequestError": 400,
    "InputError": 422,
    "EmptyBatchError": 422,
    "BatchTooLargeError": 422,
    "RaggedBatchError": 422,
    "SeriesLengthError": 422,
    "NonNumericValueError": 422,
    "NonFiniteValueError": 422,
    "MissingFeatureError": 422,
    "UnknownFeatureError": 422,
}


def named_errors() -> list[type[errors.SfnInferenceError]]:
    return [
        cls
        for _, cls in inspect.getmembers(errors, inspect.isclass)
        if issubclass(cls, errors.SfnInferenceError) and cls is not errors.SfnInferenceError
    ]


@pytest.mark.parametrize("cls", named_errors(), ids=lambda c: c.__name__)
def test_every_named_error_has_a_status_and_none_is_a_502(cls: type[errors.SfnInferenceError]) -> None:
    exc = cls("x", 0.1, 0.5) if cls is errors.LowConfidenceError else cls("boom")  # type: ignore[call-arg]
    status = status_for(exc)
    assert status == EXPECTED.get(cls.__name__, 500)
    assert status != 502
    assert error_body(exc) == {"error": cls.__name__, "message": str(exc)}


def test_subclasses_inherit_their_base_status_and_unknown_errors_are_500() -> None:
    class TooSlow(errors.UrlTimeoutError):
        pass

    assert status_for(TooSlow("slow")) == 422
    assert status_for(KeyError("x")) == 500
    assert set(STATUS_OF.values()) == {400, 413, 415, 422}


def test_http_api_events_are_told_from_direct_invocations() -> None:
    assert is_http_api_event({"version": "2.0", "requestContext": {"http": {"method": "POST"}}})
    assert not is_http_api_event({"url": "https://example.com/a.png"})
    assert not is_http_api_event({"isBase64Encoded": True, "body": "", "httpMethod": "POST", "requestContext": {}})
    assert not is_http_api_event(["not", "a", "mapping"])


def test_media_types() -> None:
    assert media_type("Image/PNG; q=1") == "image/png"
    assert media_type(None) == ""
    assert require_media_type("image/jpeg", ("image/png", "image/jpeg")) == "image/jpeg"
    with pytest.raises(errors.UnsupportedMediaTypeError, match="application/octet-stream"):
        require_media_type("application/octet-stream", ("image/png",))
    with pytest.raises(errors.UnsupportedMediaTypeError, match="no Content-Type"):
        require_media_type(None, ("image/png",))


def test_bodies_decode_base64_and_text_and_refuse_what_is_too_big_or_broken() -> None:
    assert body_bytes(base64.b64encode(b"\x89PNG").decode(), True) == b"\x89PNG"
    assert body_bytes('{"url": "x"}', False) == b'{"url": "x"}'
    with pytest.raises(errors.InvalidEventError, match="no body"):
        body_bytes(None, False)
    with pytest.raises(errors.InvalidEventError, match="base64"):
        body_bytes("not base64!", True)
    with pytest.raises(errors.RequestTooLargeError):
        body_bytes(base64.b64encode(b"x" * 101).decode(), True, limit=100)
    with pytest.raises(errors.RequestTooLargeError):
        body_bytes(base64.b64encode(b"x" * (MAX_BODY_BYTES + 3)).decode(), True)
    with pytest.raises(errors.RequestTooLargeError):
        body_bytes("y" * 101, False, limit=100)


def test_url_requests() -> None:
    assert parse_url_request(b'{"url": "https://example.com/a.png"}').url == "https://example.com/a.png"
    assert parse_url_request({"url": "s3://bucket/key.png"}).url == "s3://bucket/key.png"
    for bad in (b"not json", b'{"URL": "x"}', b'{"url": ""}', b"\xff\xfe", b'["https://example.com"]'):
        with pytest.raises(errors.InvalidEventError):
            parse_url_request(bad)


@pytest.mark.parametrize(
    ("bad", "says"),
    [
        (b"null", "expected a JSON object, got null"),
        (b'{"url": 7}', "url is number, not a string"),
        (b'{"link": "x"}', "url is missing"),
        (b'{"url": ""}', "url is 0 characters"),
        (('{"url": "https://example.com/' + "a" * 2048 + '"}').encode(), "1 to 2048"),
    ],
)
def test_a_bad_url_request_says_what_is_wrong(bad: bytes, says: str) -> None:
    with pytest.raises(errors.InvalidEventError, match=says):
        parse_url_request(bad)


def test_the_tutorials_event_is_read_without_pydantic() -> None:
    png = b"\x89PNG\r\n\x1a\n"
    event = {"body": base64.b64encode(png).decode(), "isBase64Encoded": True, "headers": {"Content-Type": "image/png"}}
    assert tutorial_image(event) == (png, "image/png")
    assert tutorial_image({**event, "headers": None}) == (png, None)
    for bad, says in [
        ([], "expected a JSON object, got array"),
        ({"isBase64Encoded": True}, "body is missing"),
        ({**event, "isBase64Encoded": "yes"}, "isBase64Encoded is string"),
        ({**event, "headers": {"Content-Type": 1}}, "headers is not an object of strings"),
        ({**event, "isBase64Encoded": False}, "base64-encoded in body"),
    ]:
        with pytest.raises(errors.InvalidEventError, match=says):
            tutorial_image(bad)


def test_answers_carry_label_score_every_class_and_optionally_the_index() -> None:
    labels = ["zero", "one", "two"]
    prediction = Prediction([0.1, 0.7, 0.2], "one", 0.7)
    assert answer(prediction, labels) == {"score": 0.7, "label": "one", "scores": {"zero": 0.1, "one": 0.7, "two": 0.2}}
    assert answer(prediction, labels, with_index=True)["value"] == 1


def test_the_image_media_types_are_imagings_without_importing_pillow() -> None:
    """core.http spells them out so that the series and tabular functions, which ship no Pillow, import it."""
    import subprocess
    import sys

    from sfn_inference.core import http, imaging

    assert http.IMAGE_MEDIA_TYPES == (imaging.PNG, imaging.JPEG)
    code = "import sys, sfn_inference.core.http, sfn_inference.core.gateway; print('PIL' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout == "False\n"
