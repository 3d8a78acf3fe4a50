"""In-Lambda capture through the log stream: nothing buffered, nothing lost, compacted into SageMaker's files."""

from __future__ import annotations

import base64
import gzip
import json
from typing import Any

import pytest

from sfn_inference.adapters.memory import InMemoryObjectStore
from sfn_inference.core.errors import InvalidEventError
from sfn_inference.core.messages import encode_inline
from sfn_inference.datacapture.compaction import LogEvent, compact, decode_subscription
from sfn_inference.datacapture.config import CaptureConfig
from sfn_inference.datacapture.logstream import CAPTURE_KEY, MAX_LOG_EVENT_BYTES, LogStreamWriter
from sfn_inference.datacapture.writer import ObjectStoreSink
from sfn_inference.roots import classify as classify_root
from support import BUNDLE_DIR, load_handler

DESTINATION = "s3://capture-bucket/datacapture"


@pytest.fixture
def capturing_classify(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("MODEL_DIR", str(BUNDLE_DIR))
    monkeypatch.setenv("CAPTURE_DESTINATION_S3_URI", DESTINATION)
    return load_handler("classify", store=InMemoryObjectStore())


def event(data: bytes) -> dict[str, Any]:
    return {"s3_bucket": "b", "s3_key": "k.png", "content_type": "image/png", "image_data": encode_inline(data)}


def capture_lines(text: str) -> list[LogEvent]:
    return [LogEvent(str(i), line) for i, line in enumerate(text.splitlines()) if line]


def subscription(events: list[LogEvent]) -> dict[str, Any]:
    """What CloudWatch Logs sends a subscribed function."""
    data = {
        "messageType": "DATA_MESSAGE",
        "logEvents": [{"id": e.id, "timestamp": 0, "message": e.message} for e in events],
    }
    return {"awslogs": {"data": base64.b64encode(gzip.compress(json.dumps(data).encode())).decode()}}


def test_each_record_is_in_the_log_before_the_invocation_returns(
    capturing_classify, reference_pngs, context, capsys
) -> None:
    """Nothing waits in memory for a later invocation or an exit handler Lambda never runs."""
    for name in ("3_00023.png", "0_00048.png"):
        capturing_classify.lambda_handler(event(reference_pngs[name]), context)
        logged = [e for e in capture_lines(capsys.readouterr().out) if CAPTURE_KEY in e.message]
        assert len(logged) == 1, "one capture line per inference, written during the invocation"
    store = capturing_classify.deps.store
    assert not store.objects, "no S3 PUT on the hot path"


def test_the_compactor_turns_the_lines_into_sagemaker_capture_files(
    capturing_classify, reference_pngs, context, capsys
) -> None:
    names = ("3_00023.png", "0_00048.png", "4_00014.png")
    outputs = [capturing_classify.lambda_handler(event(reference_pngs[n]), context) for n in names]
    compactor = load_handler("capture_compactor", store=InMemoryObjectStore())
    summary = compactor.lambda_handler(subscription(capture_lines(capsys.readouterr().out)), context)
    assert summary == {"files": 1, "records": 3, "malformed": 0}
    [(key, body)] = [
        (k, b) for (bucket, k), (b, _) in compactor.deps.store.objects.items() if bucket == "capture-bucket"
    ]
    assert key.startswith("datacapture/litert-in-lambda/AllTraffic/") and key.endswith(".jsonl")
    records = [json.loads(line) for line in body.splitlines()]
    for record, name, output in zip(records, names, outputs, strict=True):
        sides = record["captureData"]
        assert base64.b64decode(sides["endpointInput"]["data"]) == reference_pngs[name]
        assert sides["endpointOutput"]["data"] == json.dumps(output["inferences"])
        assert record["eventVersion"] == "0"


def test_a_redelivered_batch_rewrites_the_same_files() -> None:
    """Subscriptions deliver at least once: file names come from the log event ids, not from chance."""
    line = json.dumps({CAPTURE_KEY: {"destination": DESTINATION, "endpoint": "e", "variant": "v", "record": {
        "captureData": {}, "eventMetadata": {"eventId": "x", "inferenceTime": "2026-11-30T01:02:03.004Z"},
        "eventVersion": "0"}}})  # fmt: skip
    first, again = compact([LogEvent("42", line)]), compact([LogEvent("42", line)])
    assert [f.path for f in first.files] == [f.path for f in again.files]
    assert first.files[0].path.startswith("e/v/2026/11/30/01/02-03-004-")


def test_lines_that_are_not_captures_are_ignored_and_broken_ones_reported() -> None:
    result = compact(
        [LogEvent("1", "START RequestId: x"), LogEvent("2", '{"sfn_capture": {"record": '), LogEvent("3", "")]
    )
    assert result.files == [] and result.ignored == 2
    assert [event_id for event_id, _ in result.malformed] == ["2"]


def test_anything_but_a_subscription_delivery_is_an_invalid_event() -> None:
    with pytest.raises(InvalidEventError):
        decode_subscription({"awslogs": {"data": "not base64 gzip"}})
    with pytest.raises(InvalidEventError):
        decode_subscription({"Records": []})


def test_a_record_too_big_for_a_log_event_goes_straight_to_s3() -> None:
    store = InMemoryObjectStore()
    config = CaptureConfig.from_env({"CAPTURE_DESTINATION_S3_URI": DESTINATION})
    assert config is not None
    lines: list[str] = []
    writer = LogStreamWriter(config, ObjectStoreSink(store, DESTINATION), emit=lines.append)
    writer.capture(input_body=b"\x89PNG" + b"\0" * MAX_LOG_EVENT_BYTES, input_content_type="image/png",
                   output_body=b"[1.0]", output_content_type="application/json")  # fmt: skip
    writer.capture(input_body=b"small", input_content_type="image/png", output_body=b"[1.0]",
                   output_content_type="application/json")  # fmt: skip
    assert len(lines) == 1 and len(store.objects) == 1
    assert writer.counters.written_records == 2 and writer.counters.dropped_records == 0


def test_a_failing_overflow_write_is_counted_not_raised(reference_pngs) -> None:
    class BrokenPuts(InMemoryObjectStore):
        def put(self, bucket: str, key: str, body: bytes, content_type: str) -> None:
            raise ConnectionError("S3 is down")

    config = CaptureConfig.from_env({"CAPTURE_DESTINATION_S3_URI": DESTINATION})
    assert config is not None
    writer = LogStreamWriter(config, ObjectStoreSink(BrokenPuts(), DESTINATION), emit=lambda _: None)
    assert writer.capture(input_body=b"x" * (MAX_LOG_EVENT_BYTES + 1), input_content_type="image/png",
                          output_body=b"[1.0]", output_content_type="application/json") is True  # fmt: skip
    assert writer.counters.dropped_records == 1 and writer.counters.failed_writes == 1


def test_the_classify_root_captures_through_the_log(monkeypatch) -> None:
    monkeypatch.setenv("MODEL_DIR", str(BUNDLE_DIR))
    monkeypatch.setenv("CAPTURE_DESTINATION_S3_URI", DESTINATION)
    assert isinstance(classify_root.build(store=InMemoryObjectStore()).capture, LogStreamWriter)


def test_a_batch_is_one_write_of_one_line_per_record_and_big_ones_go_to_s3() -> None:
    store = InMemoryObjectStore()
    config = CaptureConfig.from_env({"CAPTURE_DESTINATION_S3_URI": DESTINATION})
    assert config is not None
    writes: list[str] = []
    writer = LogStreamWriter(config, ObjectStoreSink(store, DESTINATION), emit=writes.append)
    small = (b"\x89PNG small", "image/png", b"[1.0]", "application/json")
    big = (b"\x89PNG" + b"\0" * MAX_LOG_EVENT_BYTES, "image/png", b"[1.0]", "application/json")
    assert writer.capture_many([small, big, small]) == 3
    [write] = writes
    lines = write.splitlines()
    assert len(lines) == 2 and all(json.loads(line)[CAPTURE_KEY]["record"]["eventVersion"] == "0" for line in lines)
    assert len(store.objects) == 1
    assert writer.counters.written_records == 3 and writer.counters.captured == 3


def test_capture_many_samples_as_capture_does() -> None:
    import random

    config = CaptureConfig.from_env({"CAPTURE_DESTINATION_S3_URI": DESTINATION, "CAPTURE_SAMPLING_PERCENTAGE": "50"})
    assert config is not None
    one, many = (LogStreamWriter(config, ObjectStoreSink(InMemoryObjectStore(), DESTINATION), emit=lambda _: None,
                                 ) for _ in range(2))  # fmt: skip
    one._rng, many._rng = random.Random(7), random.Random(7)
    request = (b"\x89PNG", "image/png", b"[1.0]", "application/json")
    kept = [one.capture(input_body=request[0], input_content_type=request[1], output_body=request[2],
                        output_content_type=request[3]) for _ in range(40)]  # fmt: skip
    assert many.capture_many([request] * 40) == sum(kept)
    assert many.counters.as_dict() == one.counters.as_dict()
