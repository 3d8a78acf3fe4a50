"""Parse the inputs that start the pipeline into one :class:`ObjectRef`.

Three shapes arrive at ``serialize``: the generated test case
(``{"s3_bucket", "s3_key"}``, with the course's ``"image_data": ""`` or not), an
EventBridge "Object Created" event, and a classic S3 notification; any of them may
come in the course's ``{"statusCode": 200, "body": ...}`` envelope. S3 URL-encodes keys in both notification shapes
("red flower.png" arrives as "red+flower.png"); the test case carries the raw key.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import unquote_plus

from aws_lambda_powertools.utilities.parser.models import (
    S3EventNotificationEventBridgeModel,
    S3Model,
)
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from sfn_inference.core.errors import InvalidEventError, summarise_validation
from sfn_inference.core.messages import ObjectRef, json_type, unwrap_envelope

#: What to send instead, in every message about a bad event.
EXPECTED = (
    'expected a JSON object: {"s3_bucket": "<bucket>", "s3_key": "<key>"}, '
    'an EventBridge "Object Created" event, or an S3 event notification'
)


class TestCase(BaseModel):
    """The generated test-case shape from the course's ``generate_test_case()``."""

    model_config = ConfigDict(extra="allow")

    s3_bucket: str = Field(min_length=1)
    s3_key: str = Field(min_length=1)


def parse_object_event(event: Any) -> ObjectRef:
    """Return the object an event names, or raise :class:`InvalidEventError`."""
    event = unwrap_envelope(event)
    if not isinstance(event, Mapping):
        raise InvalidEventError(f"{EXPECTED}; got a JSON {json_type(event)}")
    try:
        if "Records" in event:
            return _from_notification(S3Model.model_validate(event))
        if event.get("source") == "aws.s3" or "detail-type" in event:
            return _from_eventbridge(S3EventNotificationEventBridgeModel.model_validate(event))
        case = TestCase.model_validate(event)
        return ObjectRef(bucket=case.s3_bucket, key=case.s3_key)
    except ValidationError as exc:
        raise InvalidEventError(f"invalid event: {summarise_validation(exc)} ({EXPECTED})") from None


def _from_eventbridge(event: S3EventNotificationEventBridgeModel) -> ObjectRef:
    if event.detail_type != "Object Created":
        raise InvalidEventError(f"unsupported EventBridge detail-type {event.detail_type!r}")
    obj = event.detail.object
    return ObjectRef(
        bucket=event.detail.bucket.name,
        key=unquote_plus(obj.key),
        encoded_key=obj.key if unquote_plus(obj.key) != obj.key else None,
        etag=obj.etag or None,
        size=None if obj.size is None else int(obj.size),
        sequencer=obj.sequencer,
    )


def _from_notification(event: S3Model) -> ObjectRef:
    if len(event.Records) != 1:
        # One execution per object: a multi-record notification would hide all but one.
        raise InvalidEventError(f"expected exactly one S3 record, got {len(event.Records)}")
    record = event.Records[0]
    if not record.eventName.startswith("ObjectCreated:"):
        raise InvalidEventError(f"unsupported S3 event {record.eventName!r}")
    obj = record.s3.object
    if obj is None:
        raise InvalidEventError("the S3 record has no object")
    return ObjectRef(
        bucket=record.s3.bucket.name,
        key=unquote_plus(obj.key),
        encoded_key=obj.key if unquote_plus(obj.key) != obj.key else None,
        etag=obj.eTag,
        size=None if obj.size is None else int(obj.size),
        sequencer=obj.sequencer,
    )
