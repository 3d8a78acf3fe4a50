"""The JSON that travels between states, and the rule for inlining image bytes.

Step Functions caps every state's input and output at 262,144 bytes, and the
Lambda task result around a payload carries a few hundred bytes of its own.
Base64 grows bytes by a third, so an image is inlined only when its encoded
form leaves :data:`STATE_HEADROOM_BYTES` for keys, labels and probabilities;
anything larger travels by reference and ``classify`` reads it from S3.
"""

from __future__ import annotations

import base64
import binascii
from typing import Any, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from sfn_inference.errors import InvalidEventError, summarise_validation

STATE_LIMIT_BYTES = 262_144
STATE_HEADROOM_BYTES = 32_768
#: Largest raw object inlined as base64 (172,032 bytes).
MAX_INLINE_BYTES = (STATE_LIMIT_BYTES - STATE_HEADROOM_BYTES) * 3 // 4

Transport = Literal["inline", "reference"]


class ObjectRef(BaseModel):
    """One S3 object, with what the event told us about it.

    It lives here, not in :mod:`sfn_inference.events`: parsing events needs Powertools'
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
    content_type: str
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


def parse_model(model: type[M], event: Any) -> M:
    """Validate ``event`` as ``model``; a bad event is an :class:`InvalidEventError`."""
    try:
        return model.model_validate(event)
    except ValidationError as exc:
        raise InvalidEventError(f"invalid {model.__name__}: {summarise_validation(exc)}") from None
