"""The HTTP routes' side of the core: decoding a request, shaping an answer, and the one place
where a named error becomes an HTTP status code.

Every error a route raises on purpose is a class in :mod:`sfn_inference.core.errors`; its
status is looked up here along the class hierarchy (a ``UrlTimeoutError`` is a
``UrlFetchError``, so 422), and the body names it::

    {"error": "NotAnImageError", "message": "not a PNG or JPEG (starts with b'GIF89a')"}

==========================================================================  ======
bad input: InvalidEventError, EmptyObjectError, NotAnImageError,              400
CorruptImageError, DecompressionBombError, IncompatibleImageError
a body over the route's limit: RequestTooLargeError, ObjectTooLargeError, PayloadTooLargeError     413
a Content-Type the route does not take: UnsupportedMediaTypeError            415
a URL refused or not fetchable: UrlRefusedError, UrlFetchError (and its       422
subclasses), ObjectNotFoundError (an ``s3://`` URL with no object)
a request the series or tabular routes cannot read: RequestError              400
(BodyNotJsonError, InvalidRequestError)
values those models do not take: InputError (SeriesLengthError,               422
RaggedBatchError, NonFiniteValueError, MissingFeatureError, ...)
anything else (ConfigError, ModelBundleError, PredictionError, ...)          500
==========================================================================  ======

Never 502: that is API Gateway's answer to a function that returns garbage, and a
named error is not garbage. Nothing here does I/O.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from sfn_inference.core.errors import (
    CorruptImageError,
    DecompressionBombError,
    EmptyObjectError,
    IncompatibleImageError,
    InputError,
    InvalidEventError,
    NotAnImageError,
    ObjectNotFoundError,
    ObjectTooLargeError,
    PayloadTooLargeError,
    RequestError,
    RequestTooLargeError,
    SfnInferenceError,
    UnsupportedMediaTypeError,
    UrlFetchError,
    UrlRefusedError,
)
from sfn_inference.core.ports import Predictor
from sfn_inference.core.predictions import Prediction, top
from sfn_inference.core.wire import EncodedImage, json_type

#: The status of each named error (and of its subclasses); anything else is a 500.
STATUS_OF: Mapping[type[SfnInferenceError], int] = {
    InvalidEventError: 400,
    EmptyObjectError: 400,
    NotAnImageError: 400,
    CorruptImageError: 400,
    DecompressionBombError: 400,
    IncompatibleImageError: 400,
    RequestTooLargeError: 413,
    ObjectTooLargeError: 413,
    PayloadTooLargeError: 413,
    UnsupportedMediaTypeError: 415,
    UrlRefusedError: 422,
    UrlFetchError: 422,
    ObjectNotFoundError: 422,
    RequestError: 400,
    InputError: 422,
}
INTERNAL_ERROR = 500
#: The largest body a route takes. A synchronous Lambda event is at most 6 MB, and a binary
#: body travels base64-encoded in it (4/3 of its size), so 4 MiB leaves room for the rest.
MAX_BODY_BYTES = 4 * 1024 * 1024
#: PNG and JPEG, as sfn_inference.core.imaging names them; spelt out, because importing imaging
#: loads Pillow, which the series and tabular functions (they map their errors here too) do not ship.
IMAGE_MEDIA_TYPES = ("image/png", "image/jpeg")
JSON_MEDIA_TYPE = "application/json"


def status_for(exc: BaseException) -> int:
    """The HTTP status of an error: its own class's, else the nearest base class's, else 500."""
    for cls in type(exc).__mro__:
        status = STATUS_OF.get(cls)  # type: ignore[call-overload]
        if status is not None:
            return int(status)
    return INTERNAL_ERROR


def error_body(exc: BaseException) -> dict[str, str]:
    return {"error": type(exc).__name__, "message": str(exc)}


# --- requests ---------------------------------------------------------------------------------------


def is_http_api_event(event: Any) -> bool:
    """An API Gateway HTTP API (payload format 2.0) event; anything else is a direct invocation."""
    return (
        isinstance(event, Mapping)
        and event.get("version") == "2.0"
        and isinstance(event.get("requestContext"), Mapping)
        and "http" in event["requestContext"]
    )


def media_type(content_type: str | None) -> str:
    """``"Image/PNG; q=1"`` -> ``"image/png"``; a missing header is ``""``."""
    return (content_type or "").split(";", 1)[0].strip().lower()


def require_media_type(content_type: str | None, accepted: Collection[str]) -> str:
    """The request's media type when the route takes it; else an UnsupportedMediaTypeError."""
    media = media_type(content_type)
    if media not in accepted:
        given = f"Content-Type {content_type!r}" if content_type else "no Content-Type"
        raise UnsupportedMediaTypeError(f"{given}: send one of {', '.join(accepted)}")
    return media


def body_bytes(body: str | None, is_base64_encoded: bool, limit: int = MAX_BODY_BYTES) -> bytes:
    """The request body as API Gateway passed it: base64 for binary media types, else text."""
    if not body:
        raise InvalidEventError("the request has no body")
    if is_base64_encoded:
        if len(body) // 4 * 3 > limit + 2:  # refuse before decoding what is plainly too big
            raise RequestTooLargeError(f"the body is over {limit} bytes")
        try:
            data = base64.b64decode(body, validate=True)
        except (binascii.Error, ValueError):
            raise InvalidEventError("the body is marked isBase64Encoded but is not valid base64") from None
    else:
        data = body.encode("utf-8")
    if len(data) > limit:
        raise RequestTooLargeError(f"the body is {len(data)} bytes, over the limit of {limit}")
    return data


#: The longest URL the URL route takes.
MAX_URL_LENGTH = 2048


@dataclass(frozen=True)
class UrlRequest:
    """What the URL route takes: ``{"url": "https://..."}`` (also ``s3://bucket/key``)."""

    url: str


def parse_url_request(data: bytes | Mapping[str, Any]) -> UrlRequest:
    """The JSON body (or a direct invocation's event) as a :class:`UrlRequest`, or InvalidEventError.

    Read with plain code, not a pydantic model: pydantic's import would double the route's cold start.
    """
    if isinstance(data, bytes | bytearray):
        try:
            data = json.loads(data)
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise InvalidEventError(f'the body is not JSON ({exc}): send {{"url": "https://..."}}') from None
    if not isinstance(data, Mapping):
        raise InvalidEventError(
            f'invalid UrlRequest: expected a JSON object, got {json_type(data)}: send {{"url": ...}}'
        )
    url = data.get("url")
    if not isinstance(url, str):
        given = "missing" if "url" not in data else f"{json_type(url)}, not a string"
        raise InvalidEventError(f'invalid UrlRequest: url is {given}: send {{"url": "https://..."}}')
    if not 1 <= len(url) <= MAX_URL_LENGTH:
        raise InvalidEventError(f"invalid UrlRequest: url is {len(url)} characters; 1 to {MAX_URL_LENGTH} are taken")
    return UrlRequest(url)


#: Query parameters that carry credentials (presigned URLs): never logged or captured.
SECRET_PARAMETERS = frozenset(
    {"x-amz-signature", "x-amz-credential", "x-amz-security-token", "signature", "awsaccesskeyid", "sig", "token"}
)


def redact_url(url: str) -> str:
    """The URL with the values of credential parameters (a presigned URL's signature) replaced."""
    parts = urlsplit(url)
    if not parts.query:
        return url
    query = [(k, "REDACTED" if k.lower() in SECRET_PARAMETERS else v) for k, v in parse_qsl(parts.query, True)]
    return urlunsplit(parts._replace(query=urlencode(query, safe="/")))


def tutorial_image(event: Any) -> tuple[bytes, str | None]:
    """The image bytes of the TFLite tutorial's ``events/0.json``, invoked directly (``sam local
    invoke``, ``aws lambda invoke``): an API Gateway proxy event whose body is the image, base64;
    and its Content-Type header if it has one."""
    if not isinstance(event, Mapping):
        raise InvalidEventError(f"invalid TutorialImageEvent: expected a JSON object, got {json_type(event)}")
    body, encoded, headers = event.get("body"), event.get("isBase64Encoded"), event.get("headers")
    if not isinstance(body, str):
        raise InvalidEventError(f"invalid TutorialImageEvent: body is {_given(event, 'body')}, not a string")
    if not isinstance(encoded, bool):
        raise InvalidEventError(
            f"invalid TutorialImageEvent: isBase64Encoded is {_given(event, 'isBase64Encoded')}, not a boolean"
        )
    if headers is not None and not (isinstance(headers, Mapping) and all(isinstance(v, str) for v in headers.values())):
        raise InvalidEventError("invalid TutorialImageEvent: headers is not an object of strings")
    if not encoded:
        raise InvalidEventError("the image travels base64-encoded in body, with isBase64Encoded true")
    content_type = next((v for k, v in (headers or {}).items() if str(k).lower() == "content-type"), None)
    return body_bytes(body, True), content_type


def _given(event: Mapping[str, Any], key: str) -> str:
    return json_type(event[key]) if key in event else "missing"


# --- answers ----------------------------------------------------------------------------------------


def predict_one(image: EncodedImage, predictor: Predictor) -> Prediction:
    """One image through the predictor; its named error is raised."""
    [result] = predictor.predict([image])
    if isinstance(result, SfnInferenceError):
        raise result
    return top(result, predictor.labels)


def answer(prediction: Prediction, labels: list[str], *, with_index: bool = False) -> dict[str, Any]:
    """The label and its score, and one probability per class. ``with_index`` adds the TFLite
    tutorial's ``value`` (the class index), so its clients read ``value`` and ``score`` unchanged."""
    index = labels.index(prediction.label)
    head: dict[str, Any] = {"value": index} if with_index else {}
    return {
        **head,
        "score": prediction.confidence,
        "label": prediction.label,
        "scores": dict(zip(labels, prediction.probabilities, strict=True)),
    }
