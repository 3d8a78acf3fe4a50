"""The JSON that travels between states, as pydantic models.

A batch (a Distributed Map child) travels as :class:`BatchEvent`, declared by
``"mode": "batch"`` in the ASL; anything else is one image. The plain parts (the
inline rule, the envelope, :class:`EncodedImage`) live in :mod:`sfn_inference.core.wire`,
which classify's hot path uses without importing pydantic; they are re-exported here.
"""

from __future__ import annotations

from typing import Any, Literal, TypeVar

from pydantic import AliasChoices, BaseModel, ConfigDict, Field, ValidationError

from sfn_inference.core.errors import InvalidEventError, summarise_validation
from sfn_inference.core.wire import (  # re-exported: the plain parts of the messages
    BATCH_MODE,
    MAX_INLINE_BYTES,
    STATE_HEADROOM_BYTES,
    STATE_LIMIT_BYTES,
    EncodedImage,
    decode_image_data,
    encode_inline,
    fits_inline,
    is_batch,
    is_settled,
    json_type,
    unwrap_envelope,
)

__all__ = [
    "BATCH_MODE",
    "MAX_INLINE_BYTES",
    "OUTCOMES",
    "STATE_HEADROOM_BYTES",
    "STATE_LIMIT_BYTES",
    "BatchEvent",
    "ClassifiedImage",
    "EncodedImage",
    "ImagePayload",
    "ListedObject",
    "ObjectRef",
    "Outcome",
    "ResultRow",
    "Transport",
    "decode_image_data",
    "encode_inline",
    "error_row",
    "fits_inline",
    "is_batch",
    "is_settled",
    "json_type",
    "parse_model",
    "unwrap_envelope",
]


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
        return None if self.image_data is None else decode_image_data(self.image_data)


class ClassifiedImage(ImagePayload):
    """What ``classify`` returns: the payload plus the model's answer."""

    label: str
    confidence: float = Field(ge=0.0, le=1.0)
    confidence_threshold: float | None = Field(default=None, gt=0.0, le=1.0)


M = TypeVar("M", bound=BaseModel)


def parse_model(model: type[M], event: Any) -> M:
    """Validate ``event`` as ``model``; a bad event is an :class:`InvalidEventError`."""
    try:
        return model.model_validate(event)
    except ValidationError as exc:
        raise InvalidEventError(f"invalid {model.__name__}: {summarise_validation(exc)}") from None


# --- batch mode -------------------------------------------------------------------------------------

Outcome = Literal["confident", "low_confidence", "error"]
OUTCOMES: tuple[Outcome, ...] = ("confident", "low_confidence", "error")


class ListedObject(BaseModel):
    """One item of the ItemReader's ``s3:listObjectsV2`` listing (Step Functions spells it ``Etag``;
    the S3 API, and so the local cloud's listing, ``ETag``)."""

    model_config = ConfigDict(extra="ignore")

    Key: str
    Etag: str | None = Field(default=None, validation_alias=AliasChoices("Etag", "ETag"))
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


def error_row(key: str, etag: str | None, exc: BaseException) -> ResultRow:
    return ResultRow(key=key, etag=etag, outcome="error", error=type(exc).__name__, cause=str(exc))
