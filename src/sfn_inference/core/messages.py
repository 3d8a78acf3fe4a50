"""The JSON that travels between states, and the rule for inlining image bytes.

A batch (a Distributed Map child) travels as :class:`BatchEvent`, declared by
``"mode": "batch"`` in the ASL; anything else is one image.

Step Functions caps every state's input and output at 262,144 bytes, and the
Lambda task result around a payload carries a few hundred bytes of its own.
Base64 grows bytes by a third, so an image is inlined only when its encoded
form leaves :data:`STATE_HEADROOM_BYTES` for keys, labels and probabilities;
anything larger travels by reference and ``classify`` reads it from S3.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from sfn_inference.core.errors import InvalidEventError, summarise_validation

STATE_LIMIT_BYTES = 262_144
STATE_HEADROOM_BYTES = 32_768
#: Largest raw object inlined as base64 (172,032 bytes).
MAX_INLINE_BYTES = (STATE_LIMIT_BYTES - STATE_HEADROOM_BYTES) * 3 // 4

Transport = Literal["inline", "reference"]


class ObjectRef(BaseModel):
    """One S3 object, with what the event told us about it.

    It lives here, not in :mod:`sfn_inference.core.triggers`: parsing events needs Powertools'
    parser models, which the classify path (cold start) has no reason to import.
    """

    model_config = ConfigDict(frozen=True)

    bucket: str = Field(min_length=1)
    key: str = Field(min_length=1)
    etag: str | None = None
    size: int | None = None
    sequencer: str | None = None
    #: The key exactly as the event spelt it, when URL-decoding changed it.
    encoded_key: str | None = None


class ImagePayload(BaseModel):
    """What ``serialize`` returns: an image, inline or by reference."""

    model_config = ConfigDict(extra="allow")

    s3_bucket: str = Field(min_length=1)
    s3_key: str = Field(min_length=1)
    #: Sniffed by serialize; the course's serialize sends none, and classify sniffs the bytes then.
    content_type: str | None = None
    transport: Transport = "inline"
    image_data: str | None = None
    size_bytes: int | None = None
    etag: str | None = None
    inferences: list[float] = Field(default_factory=list)

    def image_bytes(self) -> bytes | None:
        """The inline image, or None when it travels by reference."""
        if self.image_data is None:
            return None
        try:
            return base64.b64decode(self.image_data, validate=True)
        except (binascii.Error, ValueError):
            raise InvalidEventError("image_data is not valid base64") from None


class ClassifiedImage(ImagePayload):
    """What ``classify`` returns: the payload plus the model's answer."""

    label: str
    confidence: float = Field(ge=0.0, le=1.0)
    confidence_threshold: float | None = Field(default=None, gt=0.0, le=1.0)


def encode_inline(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def fits_inline(size: int) -> bool:
    return size <= MAX_INLINE_BYTES


M = TypeVar("M", bound=BaseModel)

#: JSON's names for what ``json.loads`` gives, for messages a user can act on.
_JSON_TYPES = {dict: "object", list: "array", str: "string", int: "number", float: "number", bool: "boolean"}


def json_type(value: Any) -> str:
    """The JSON name of a decoded value's type: ``null``, ``string``, ``array``, ..."""
    if value is None:
        return "null"
    return _JSON_TYPES.get(type(value), type(value).__name__)


def unwrap_envelope(event: Any) -> Any:
    """The ``body`` of a ``{"statusCode": 200, "body": ...}`` envelope, else ``event`` itself.

    The course's Lambdas (and API Gateway proxies) wrap their answer so; the next state
    then gets the envelope. The body may be an object or a JSON string of one. A non-2xx
    envelope is the previous step's failure, not an input.
    """
    if not (isinstance(event, Mapping) and "statusCode" in event and "body" in event):
        return event
    status, body = event["statusCode"], event["body"]
    if isinstance(body, str):
        try:
            body = json.loads(body)
        except json.JSONDecodeError:
            raise InvalidEventError(f"the envelope's body is a string but not JSON: {body[:80]!r}") from None
    if not isinstance(status, int) or not 200 <= status < 300:
        raise InvalidEventError(f"the previous step answered statusCode {status!r}: {str(body)[:200]}")
    return body


def parse_model(model: type[M], event: Any) -> M:
    """Validate ``event`` as ``model``; a bad event is an :class:`InvalidEventError`."""
    try:
        return model.model_validate(event)
    except ValidationError as exc:
        raise InvalidEventError(f"invalid {model.__name__}: {summarise_validation(exc)}") from None


@dataclass(frozen=True)
class EncodedImage:
    """Image bytes with the content type sniffed once, when they were read: it travels with them."""

    data: bytes
    content_type: str


# --- batch mode -------------------------------------------------------------------------------------

BATCH_MODE = "batch"
Outcome = Literal["confident", "low_confidence", "error"]
OUTCOMES: tuple[Outcome, ...] = ("confident", "low_confidence", "error")


class ListedObject(BaseModel):
    """One item of the ItemReader's ``s3:listObjectsV2`` listing."""

    model_config = ConfigDict(extra="ignore")

    Key: str
    Etag: str | None = None
    Size: int | None = None

    @property
    def etag(self) -> str | None:
        return (self.Etag or "").strip('"') or None


class ResultRow(BaseModel):
    """The one recorded outcome of one listed key."""

    key: str
    etag: str | None = None
    outcome: Outcome
    label: str | None = None
    confidence: float | None = None
    error: str | None = None
    cause: str | None = None


class BatchEvent(BaseModel):
    """What travels between the child workflow's states: still-in-flight payloads and settled rows."""

    mode: Literal["batch"]
    bucket: str = Field(min_length=1)
    items: list[dict[str, Any]]
    confidence_threshold: float | None = Field(default=None, gt=0.0, le=1.0)


def is_batch(event: Any) -> bool:
    """The ASL declares a batch with ``"mode": "batch"``; the single-image shapes never carry it."""
    return isinstance(event, Mapping) and event.get("mode") == BATCH_MODE


def is_settled(item: Mapping[str, Any]) -> bool:
    return "outcome" in item


def error_row(key: str, etag: str | None, exc: BaseException) -> ResultRow:
    return ResultRow(key=key, etag=etag, outcome="error", error=type(exc).__name__, cause=str(exc))
