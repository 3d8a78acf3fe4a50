"""The pure core of the three functions. Handlers parse, call these, and return JSON."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sfn_inference.errors import (
    EmptyObjectError,
    InvalidEventError,
    LowConfidenceError,
    ObjectNotFoundError,
    ObjectTooLargeError,
)
from sfn_inference.imaging import SNIFF_BYTES, sniff_content_type
from sfn_inference.payload import ClassifiedImage, ImagePayload, ObjectRef, encode_inline, fits_inline, parse_model
from sfn_inference.predictors import Predictor, top
from sfn_inference.store import ObjectStore

#: Objects above this are refused outright: no image this model takes is anywhere near it.
MAX_OBJECT_BYTES = 32 * 1024 * 1024


def serialize_object(ref: ObjectRef, store: ObjectStore) -> ImagePayload:
    """Read an object and return it inline (base64) or, when too big for state, by reference."""
    try:
        info = store.head(ref.bucket, ref.key)
    except ObjectNotFoundError:
        if ref.encoded_key is None:
            raise
        # S3 notifications URL-encode keys; EventBridge's documented examples do not always.
        # A literal "+" or "%" in a key is therefore ambiguous: try the key as it arrived.
        ref = ref.model_copy(update={"key": ref.encoded_key, "encoded_key": None})
        info = store.head(ref.bucket, ref.key)
    if info.size == 0:
        raise EmptyObjectError(f"s3://{ref.bucket}/{ref.key} is empty")
    if info.size > MAX_OBJECT_BYTES:
        raise ObjectTooLargeError(f"s3://{ref.bucket}/{ref.key} is {info.size} bytes (limit {MAX_OBJECT_BYTES})")
    etag = info.etag or ref.etag
    if not fits_inline(info.size):
        head = store.get(ref.bucket, ref.key, first_bytes=SNIFF_BYTES)
        return ImagePayload(
            s3_bucket=ref.bucket,
            s3_key=ref.key,
            content_type=sniff_content_type(head),
            transport="reference",
            size_bytes=info.size,
            etag=etag,
        )
    data = store.get(ref.bucket, ref.key)
    return ImagePayload(
        s3_bucket=ref.bucket,
        s3_key=ref.key,
        content_type=sniff_content_type(data[:SNIFF_BYTES]),
        image_data=encode_inline(data),
        size_bytes=info.size,
        etag=etag,
    )


def load_image_bytes(payload: ImagePayload, store: ObjectStore) -> bytes:
    inline = payload.image_bytes()
    if inline is not None:
        return inline
    if payload.transport != "reference":
        raise InvalidEventError("image_data is missing and the payload is not marked as a reference")
    return store.get(payload.s3_bucket, payload.s3_key)


def classify_payloads(
    payloads: Sequence[ImagePayload], store: ObjectStore, predictor: Predictor
) -> list[ClassifiedImage]:
    """Classify several payloads with one predictor call (one LiteRT ``invoke`` for the batch)."""
    images = [load_image_bytes(p, store) for p in payloads]
    results = []
    for payload, probabilities in zip(payloads, predictor.predict(images), strict=True):
        prediction = top(probabilities, predictor.labels)
        results.append(
            ClassifiedImage(
                **payload.model_dump(exclude={"inferences"}),
                inferences=prediction.probabilities,
                label=prediction.label,
                confidence=prediction.confidence,
            )
        )
    return results


def check_confidence(event: Mapping[str, Any], default_threshold: float) -> Mapping[str, Any]:
    """Pass ``event`` through unchanged when confident; otherwise raise LowConfidenceError."""
    result = parse_model(ClassifiedImage, event)
    threshold = result.confidence_threshold or default_threshold
    if result.confidence < threshold:
        raise LowConfidenceError(result.label, result.confidence, threshold)
    return event
