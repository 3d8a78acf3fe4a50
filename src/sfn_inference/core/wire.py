"""The plain parts of the messages between states: no pydantic, so classify's cold path can use them.

Step Functions caps every state's input and output at 262,144 bytes, and the
Lambda task result around a payload carries a few hundred bytes of its own.
Base64 grows bytes by a third, so an image is inlined only when its encoded
form leaves :data:`STATE_HEADROOM_BYTES` for keys, labels and probabilities;
anything larger travels by reference and ``classify`` reads it from S3.
The models themselves are in :mod:`sfn_inference.core.messages`.
"""

from __future__ import annotations

import base64
import binascii
import json
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sfn_inference.core.errors import InvalidEventError

STATE_LIMIT_BYTES = 262_144
STATE_HEADROOM_BYTES = 32_768
#: Largest raw object inlined as base64 (172,032 bytes).
MAX_INLINE_BYTES = (STATE_LIMIT_BYTES - STATE_HEADROOM_BYTES) * 3 // 4
BATCH_MODE = "batch"


def json_floats(values: list[float], separator: str = ", ") -> str:
    """``json.dumps(values)`` for a list of floats (``separator`` as json's item separator), without the
    encoder's per-call setup: a few microseconds less on every inference's capture and metrics."""
    if all(map(math.isfinite, values)):
        return f"[{separator.join(map(float.__repr__, values))}]"
    return json.dumps(values, separators=(separator, ":"))  # NaN and Infinity as json writes them


def encode_inline(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def fits_inline(size: int) -> bool:
    return size <= MAX_INLINE_BYTES


def decode_image_data(image_data: str) -> bytes:
    """An inline image's bytes; anything but strict base64 is an :class:`InvalidEventError`."""
    try:
        return base64.b64decode(image_data, validate=True)
    except (binascii.Error, ValueError):
        raise InvalidEventError("image_data is not valid base64") from None


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


@dataclass(frozen=True)
class EncodedImage:
    """Image bytes with the content type sniffed once, when they were read: it travels with them."""

    data: bytes
    content_type: str


def is_batch(event: Any) -> bool:
    """The ASL declares a batch with ``"mode": "batch"``; the single-image shapes never carry it."""
    return isinstance(event, Mapping) and event.get("mode") == BATCH_MODE


def is_settled(item: Mapping[str, Any]) -> bool:
    return "outcome" in item
