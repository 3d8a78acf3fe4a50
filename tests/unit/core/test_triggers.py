import pytest

from sfn_inference.core.errors import InvalidEventError
from sfn_inference.core.triggers import parse_object_event
from support import load_event


def test_test_case_shape_keeps_the_raw_key() -> None:
    ref = parse_object_event({"s3_bucket": "b", "s3_key": "incoming/red+flower.png"})
    assert (ref.bucket, ref.key) == ("b", "incoming/red+flower.png")


def test_eventbridge_object_created_decodes_the_key() -> None:
    ref = parse_object_event(load_event("eventbridge_object_created"))
    assert ref.bucket == "sfn-inference-images"
    assert ref.key == "incoming/red flower.png"
    assert ref.etag == "b1946ac92492d2347c6235b4d2611184"
    assert ref.sequencer == "00617F08299329D189"


def test_classic_notification_decodes_percent_escapes_and_plus() -> None:
    ref = parse_object_event(load_event("s3_notification"))
    assert ref.key == "incoming/café menu (2).png"
    assert ref.size == 1193


@pytest.mark.parametrize(
    ("event", "match"),
    [
        ({}, "s3_bucket"),
        ({"s3_bucket": "b"}, "s3_key"),
        ({"s3_bucket": "b", "s3_key": ""}, "s3_key"),
        ([1, 2], "expected a JSON object"),
        ("s3://b/k", "expected a JSON object"),
        ({"Records": []}, "exactly one"),
        ({**load_event("eventbridge_object_created"), "detail": {}}, "detail"),
    ],
)
def test_bad_events_raise_invalid_event_error(event: object, match: str) -> None:
    with pytest.raises(InvalidEventError, match=match):
        parse_object_event(event)


def test_only_object_created_is_accepted() -> None:
    event = load_event("eventbridge_object_created")
    event["detail-type"] = "Object Deleted"
    with pytest.raises(InvalidEventError, match="Object Deleted"):
        parse_object_event(event)
    record = load_event("s3_notification")
    record["Records"][0]["eventName"] = "ObjectRemoved:Delete"
    with pytest.raises(InvalidEventError, match="ObjectRemoved"):
        parse_object_event(record)
