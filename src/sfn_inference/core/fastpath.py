"""classify's hot path on plain dicts: the answers of :mod:`core.stages`, without pydantic per image.

What serialize sends (and what a Distributed Map child carries) has one canonical shape.
An event of exactly that shape is checked here with plain code and classified with the
same steps as :func:`core.stages.classify_one` and :func:`core.stages.classify_batch`.
Anything else (the course's envelope, a field of another type, a key the models would
coerce or reject) goes through those functions and their pydantic models, imported then:
so every accepted event gets the same answer, and every rejected one the same named
error and message, as before. ``tests/unit/functions/test_fastpath.py`` holds the two
paths to that on the same events.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sfn_inference.core.errors import InvalidEventError, SfnInferenceError
from sfn_inference.core.imaging import SNIFF_BYTES, sniff_content_type
from sfn_inference.core.ports import ItemResult, ObjectStore, Predictor
from sfn_inference.core.predictions import top
from sfn_inference.core.wire import BATCH_MODE, EncodedImage, decode_image_data

#: ImagePayload's fields, and the type each canonical value has (None aside).
_TEXT = ("s3_key", "s3_bucket")
_OPTIONAL_TEXT = ("content_type", "image_data", "etag")
_FIELDS = frozenset((*_TEXT, *_OPTIONAL_TEXT, "transport", "size_bytes", "inferences"))
_TRANSPORTS = ("inline", "reference")
#: The order ClassifiedImage.model_dump gives a batch item's fields (before exclude_none).
_BATCH_ORDER = ("s3_bucket", "s3_key", "content_type", "transport", "size_bytes", "etag")


def canonical_payload(event: Any) -> bool:
    """True when ``event`` is an ImagePayload with every value already of its declared type.

    Extra keys are allowed, as ImagePayload allows them, except the names of classify's
    answer (``label``, ``confidence``, ``confidence_threshold``), which the models treat
    specially, and an envelope's ``statusCode``.
    """
    if type(event) is not dict:
        return False
    for name in _TEXT:
        value = event.get(name)
        if type(value) is not str or not value:
            return False
    for name in _OPTIONAL_TEXT:
        value = event.get(name)
        if value is not None and type(value) is not str:
            return False
    size = event.get("size_bytes")
    if (size is not None and type(size) is not int) or event.get("transport", "inline") not in _TRANSPORTS:
        return False
    inferences = event.get("inferences", [])
    if type(inferences) is not list or any(type(p) is not float for p in inferences):
        return False
    return not any(key in event for key in ("label", "confidence", "confidence_threshold", "statusCode", "mode"))


def canonical_batch(event: Any) -> bool:
    """A BatchEvent whose items are all settled rows or serialize's own payloads (no extras)."""
    if type(event) is not dict or event.get("mode") != BATCH_MODE:
        return False
    bucket, items, threshold = event.get("bucket"), event.get("items"), event.get("confidence_threshold")
    if type(bucket) is not str or not bucket or type(items) is not list:
        return False
    if threshold is not None and not (type(threshold) in (float, int) and 0.0 < threshold <= 1.0):
        return False
    return all(type(i) is dict and ("outcome" in i or (i.keys() <= _FIELDS and canonical_payload(i))) for i in items)


def load_image(event: Mapping[str, Any], store: ObjectStore) -> EncodedImage:
    """:func:`core.stages.load_image` on a canonical payload."""
    image_data = event.get("image_data")
    if image_data is None:
        if event.get("transport", "inline") != "reference":
            raise InvalidEventError(
                "image_data is missing and the payload is not marked as a reference: "
                "send serialize's output (image_data in base64, or transport: reference)"
            )
        data = store.get(event["s3_bucket"], event["s3_key"])
    else:
        data = decode_image_data(image_data)
    return EncodedImage(data, event.get("content_type") or sniff_content_type(data[:SNIFF_BYTES]))


def classify_event(event: Any, store: ObjectStore, predictor: Predictor) -> dict[str, Any]:
    """classify's answer to one event, single image or batch: the handler's whole job."""
    if type(event) is dict and event.get("mode") == BATCH_MODE:
        if canonical_batch(event):
            return {**event, "items": classify_items(event["items"], store, predictor)}
        from sfn_inference.core.messages import BatchEvent, parse_model  # noqa: PLC0415 - the models' path
        from sfn_inference.core.stages import classify_batch  # noqa: PLC0415

        return {**event, "items": classify_batch(parse_model(BatchEvent, event), store, predictor)}
    if canonical_payload(event):
        image = load_image(event, store)
        [result] = predictor.predict([image])
        if isinstance(result, SfnInferenceError):
            raise result
        prediction = top(result, predictor.labels)
        return {
            **event,
            "content_type": image.content_type,
            "inferences": prediction.probabilities,
            "label": prediction.label,
            "confidence": prediction.confidence,
        }
    return _classify_with_models(event, store, predictor)


def _classify_with_models(event: Any, store: ObjectStore, predictor: Predictor) -> dict[str, Any]:
    from sfn_inference.core.messages import ImagePayload, parse_model, unwrap_envelope  # noqa: PLC0415
    from sfn_inference.core.stages import classify_one  # noqa: PLC0415

    event = unwrap_envelope(event)  # the course's serialize answers {"statusCode": 200, "body": ...}
    result = classify_one(parse_model(ImagePayload, event), store, predictor)
    return {**event, **result.model_dump(include={"content_type", "inferences", "label", "confidence"})}


def classify_items(items: Sequence[dict[str, Any]], store: ObjectStore, predictor: Predictor) -> list[dict[str, Any]]:
    """:func:`core.stages.classify_batch` on canonical items: one predictor call for the batch."""
    out: list[dict[str, Any] | None] = [None] * len(items)
    pending: list[tuple[int, dict[str, Any], EncodedImage]] = []
    for i, item in enumerate(items):
        if "outcome" in item:
            out[i] = item
            continue
        try:
            pending.append((i, item, load_image(item, store)))
        except SfnInferenceError as exc:
            out[i] = error_row(item, exc)
    results: list[ItemResult] = predictor.predict([image for _, _, image in pending]) if pending else []
    for (i, item, _), result in zip(pending, results, strict=True):
        if isinstance(result, SfnInferenceError):
            out[i] = error_row(item, result)
            continue
        prediction = top(result, predictor.labels)
        classified = {k: item[k] for k in _BATCH_ORDER if item.get(k) is not None}
        classified["transport"] = item.get("transport", "inline")  # a default the model writes out
        out[i] = {  # the image bytes stay behind: state is small
            **{k: classified[k] for k in _BATCH_ORDER if k in classified},
            "inferences": prediction.probabilities,
            "label": prediction.label,
            "confidence": prediction.confidence,
        }
    return [item for item in out if item is not None]


def error_row(item: Mapping[str, Any], exc: BaseException) -> dict[str, Any]:
    """``messages.error_row(...).model_dump(exclude_none=True)`` for a canonical item."""
    row: dict[str, Any] = {"key": item["s3_key"]}
    if item.get("etag") is not None:
        row["etag"] = item["etag"]
    return {**row, "outcome": "error", "error": type(exc).__name__, "cause": str(exc)}
