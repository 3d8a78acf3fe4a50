"""The stages the functions run, each for one image or a batch: serialize, classify, filter.

Handlers parse, call these, and return JSON. In a batch every key ends as exactly
one :class:`ResultRow` (``confident``, ``low_confidence`` or ``error`` with the
error's name): a bad object is an outcome of that item, never the end of its batch.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sfn_inference.core.errors import (
    EmptyObjectError,
    InvalidEventError,
    LowConfidenceError,
    ObjectNotFoundError,
    ObjectTooLargeError,
    SfnInferenceError,
)
from sfn_inference.core.imaging import SNIFF_BYTES, sniff_content_type
from sfn_inference.core.messages import (
    MAX_INLINE_BYTES,
    BatchEvent,
    ClassifiedImage,
    EncodedImage,
    ImagePayload,
    ListedObject,
    ObjectRef,
    Outcome,
    ResultRow,
    encode_inline,
    error_row,
    fits_inline,
    is_settled,
    parse_model,
    unwrap_envelope,
)
from sfn_inference.core.ports import ObjectInfo, ObjectStore, Predictor
from sfn_inference.core.predictions import top

#: Objects above this are refused outright: no image this model takes is anywhere near it.
MAX_OBJECT_BYTES = 32 * 1024 * 1024


# --- serialize ---------------------------------------------------------------------------------------


def serialize_object(ref: ObjectRef, store: ObjectStore, *, listed: ObjectInfo | None = None) -> ImagePayload:
    """Read an object and return it inline (base64) or, when too big for state, by reference.

    ``listed`` is what a listing already said of the object (the batch's ItemReader): its size
    and ETag stand in for the HEAD a single event needs.
    """
    try:
        info = listed or store.head(ref.bucket, ref.key)
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


def serialize_batch(event: BatchEvent, store: ObjectStore) -> list[dict[str, Any]]:
    """Fetch each object; inline images while the whole batch stays under the state limit."""
    budget = MAX_INLINE_BYTES
    out: list[dict[str, Any]] = []
    for raw in event.items:
        listed = parse_model(ListedObject, raw)
        try:
            known = None if listed.Size is None else ObjectInfo(listed.Size, listed.etag, None)
            ref = ObjectRef(bucket=event.bucket, key=listed.Key, etag=listed.etag)
            payload = serialize_object(ref, store, listed=known)
            size = payload.size_bytes or 0
            if payload.transport == "inline" and size * 4 // 3 > budget:
                payload = payload.model_copy(update={"transport": "reference", "image_data": None})
            elif payload.transport == "inline":
                budget -= size * 4 // 3
            out.append(payload.model_dump(exclude_none=True))
        except SfnInferenceError as exc:
            out.append(error_row(listed.Key, listed.etag, exc).model_dump(exclude_none=True))
    return out


# --- classify ----------------------------------------------------------------------------------------

#: An earlier answer an event may carry (filter's output classified again): replaced, never re-validated.
_ANSWER = ("label", "confidence", "confidence_threshold")


def load_image(payload: ImagePayload, store: ObjectStore) -> EncodedImage:
    """The payload's image, inline or read by reference, with the content type serialize sniffed
    (or sniffed here, when the course's serialize sent none)."""
    data = payload.image_bytes()
    if data is None:
        if payload.transport != "reference":
            raise InvalidEventError(
                "image_data is missing and the payload is not marked as a reference: "
                "send serialize's output (image_data in base64, or transport: reference)"
            )
        data = store.get(payload.s3_bucket, payload.s3_key)
    return EncodedImage(data, payload.content_type or sniff_content_type(data[:SNIFF_BYTES]))


def classify_one(payload: ImagePayload, store: ObjectStore, predictor: Predictor) -> ClassifiedImage:
    image = load_image(payload, store)
    [result] = predictor.predict([image])
    if isinstance(result, SfnInferenceError):
        raise result
    prediction = top(result, predictor.labels)
    return ClassifiedImage(
        **payload.model_dump(exclude={"inferences", "content_type", *_ANSWER}),
        content_type=image.content_type,
        inferences=prediction.probabilities,
        label=prediction.label,
        confidence=prediction.confidence,
    )


def classify_batch(event: BatchEvent, store: ObjectStore, predictor: Predictor) -> list[dict[str, Any]]:
    """One predictor call for every image of the batch that can be read."""
    out: list[dict[str, Any] | None] = [None] * len(event.items)
    pending: list[tuple[int, ImagePayload, EncodedImage]] = []
    for i, item in enumerate(event.items):
        if is_settled(item):
            out[i] = item
            continue
        try:
            payload = parse_model(ImagePayload, item)
            pending.append((i, payload, load_image(payload, store)))
        except SfnInferenceError as exc:
            out[i] = error_row(str(item.get("s3_key", "?")), item.get("etag"), exc).model_dump(exclude_none=True)
    results = predictor.predict([image for _, _, image in pending]) if pending else []
    for (i, payload, _), result in zip(pending, results, strict=True):
        if isinstance(result, SfnInferenceError):
            out[i] = error_row(payload.s3_key, payload.etag, result).model_dump(exclude_none=True)
            continue
        prediction = top(result, predictor.labels)
        classified = ClassifiedImage(
            **payload.model_dump(exclude={"inferences", "image_data", *_ANSWER}),
            inferences=prediction.probabilities,
            label=prediction.label,
            confidence=prediction.confidence,
        )
        out[i] = classified.model_dump(exclude_none=True)  # the image bytes stay behind: state is small
    return [item for item in out if item is not None]


# --- filter ------------------------------------------------------------------------------------------


def check_confidence(event: Any, default_threshold: float) -> Mapping[str, Any]:
    """Pass ``event`` through unchanged when confident; otherwise raise LowConfidenceError.

    The course's classify sends ``{image_data, s3_bucket, s3_key, inferences}`` (in a
    ``statusCode``/``body`` envelope): the top probability is the confidence then, and its
    index the label. That event comes back unwrapped, with the two added.
    """
    classified: Mapping[str, Any] = with_answer(unwrap_envelope(event))
    result = parse_model(ClassifiedImage, classified)
    threshold = result.confidence_threshold or default_threshold
    if result.confidence < threshold:
        raise LowConfidenceError(result.label, result.confidence, threshold)
    return classified


def with_answer(event: Any) -> Any:
    """``event`` with ``label`` and ``confidence`` from its ``inferences`` when it has neither."""
    if not isinstance(event, Mapping) or "confidence" in event or "label" in event:
        return event
    inferences = event.get("inferences")
    if not inferences:
        raise InvalidEventError(
            "no answer to check: send classify's output (label and confidence, or a non-empty inferences list)"
        )
    if not isinstance(inferences, list) or not all(
        isinstance(p, int | float) and not isinstance(p, bool) for p in inferences
    ):
        raise InvalidEventError(f"inferences must be a list of probabilities, got {str(inferences)[:80]}")
    best = max(range(len(inferences)), key=inferences.__getitem__)
    return {**event, "label": str(best), "confidence": float(inferences[best])}


def filter_batch(event: BatchEvent, default_threshold: float) -> list[dict[str, Any]]:
    """Settle every item: confident or low_confidence by the threshold; errors pass through."""
    threshold = event.confidence_threshold or default_threshold
    rows = []
    for item in event.items:
        if is_settled(item):
            rows.append(parse_model(ResultRow, item))
            continue
        result = parse_model(ClassifiedImage, item)
        outcome: Outcome = "confident" if result.confidence >= threshold else "low_confidence"
        rows.append(
            ResultRow(
                key=result.s3_key, etag=result.etag, outcome=outcome, label=result.label, confidence=result.confidence
            )
        )
    return [r.model_dump() for r in rows]
