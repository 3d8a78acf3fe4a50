"""Data capture: SageMaker Model Monitor's record format, sampling, options, layout, buffering, failure."""

from __future__ import annotations

import base64
import dataclasses
import json
import math
import random
import re
import threading
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from sfn_inference.adapters.memory import InMemoryObjectStore
from sfn_inference.core.errors import ConfigError
from sfn_inference.datacapture.config import CaptureConfig, DataCaptureConfig
from sfn_inference.datacapture.writer import (
    CaptureWriter,
    LocalDirectorySink,
    ObjectStoreSink,
    RecordEncoder,
    build_record,
    event_id_v4,
    open_capture_writer,
)
from sfn_inference.roots import classify as classify_root
from support import BUNDLE_DIR, init_imports, load_event

UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")
INFERENCE_TIME = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$")
FILE_NAME = re.compile(r"^\d{2}-\d{2}-\d{3}-[0-9a-f-]{36}\.jsonl$")
T0 = datetime(2025, 3, 14, 9, 26, 53, 589_000, tzinfo=UTC)
PROBS = [0.0, 2e-07, 0.0, 0.0, 6.4e-06, 0.0, 0.0, 0.9999933, 0.0, 0.0]


class Clock:
    def __init__(self, now: datetime = T0) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


class ListSink:
    def __init__(self) -> None:
        self.files: dict[str, bytes] = {}

    def write(self, path: str, body: bytes) -> None:
        self.files[path] = body

    def records(self) -> list[dict[str, Any]]:
        return [json.loads(line) for body in self.files.values() for line in body.splitlines()]


class FailingSink:
    def __init__(self) -> None:
        self.fail = True
        self.inner = ListSink()

    def write(self, path: str, body: bytes) -> None:
        if self.fail:
            raise ConnectionError("S3 is unreachable")
        self.inner.write(path, body)


def data_capture(**overrides: Any) -> dict[str, Any]:
    return {
        "EnableCapture": True,
        "InitialSamplingPercentage": 100,
        "DestinationS3Uri": "s3://capture-bucket/datacapture",
        "CaptureOptions": [{"CaptureMode": "Input"}, {"CaptureMode": "Output"}],
        "CaptureContentTypeHeader": {"CsvContentTypes": ["text/csv"], "JsonContentTypes": ["application/json"]},
        **overrides,
    }


def config(endpoint: str = "digits-endpoint", **overrides: Any) -> CaptureConfig:
    buffering = {k: overrides.pop(k) for k in ("max_age_seconds", "max_file_bytes") if k in overrides}
    parsed = CaptureConfig.from_sagemaker(data_capture(**overrides), endpoint_name=endpoint, env={})
    assert parsed is not None
    return dataclasses.replace(parsed, **buffering)


def writer(cfg: CaptureConfig | None = None, sink: Any = None, clock: Clock | None = None, **kw: Any) -> CaptureWriter:
    return CaptureWriter(cfg or config(), sink if sink is not None else ListSink(), clock=clock or Clock(), **kw)


def capture(w: CaptureWriter, image: bytes = b"\x89PNG\r\n\x1a\nfake", **kw: Any) -> bool:
    return w.capture(
        input_body=image,
        input_content_type=kw.pop("input_content_type", "image/png"),
        output_body=kw.pop("output_body", json.dumps(PROBS).encode()),
        output_content_type=kw.pop("output_content_type", "application/json"),
        **kw,
    )


def check_documented_format(record: dict[str, Any]) -> None:
    """What SageMaker documents for every record, whoever wrote it."""
    assert list(record) == ["captureData", "eventMetadata", "eventVersion"]
    assert record["eventVersion"] == "0"
    sides = record["captureData"]
    assert sides and set(sides) <= {"endpointInput", "endpointOutput"}
    for name, mode in (("endpointInput", "INPUT"), ("endpointOutput", "OUTPUT")):
        if name in sides:
            side = sides[name]
            assert list(side) == ["observedContentType", "mode", "data", "encoding"], name
            assert side["mode"] == mode
            assert side["encoding"] in {"CSV", "JSON", "BASE64"}
            assert all(isinstance(v, str) for v in side.values())
            if side["encoding"] == "BASE64":
                base64.b64decode(side["data"], validate=True)
    metadata = record["eventMetadata"]
    assert set(metadata) in ({"eventId", "inferenceTime"}, {"eventId", "inferenceTime", "inferenceId"})
    assert UUID.match(metadata["eventId"]), metadata["eventId"]
    assert INFERENCE_TIME.match(metadata["inferenceTime"]), metadata["inferenceTime"]


# --- the record ------------------------------------------------------------------------------------


def test_the_fixture_is_the_documented_format() -> None:
    check_documented_format(load_event("capture_record"))


def test_a_record_matches_the_documented_fixture_field_by_field(reference_pngs) -> None:
    fixture = load_event("capture_record")
    sink = ListSink()
    w = writer(sink=sink)
    png = reference_pngs["7_00017.png"]
    assert capture(w, png, inference_id="incoming-7-00017-3f9a")
    w.flush()
    [record] = sink.records()

    check_documented_format(record)
    assert record.keys() == fixture.keys()
    for side in ("endpointInput", "endpointOutput"):
        got, want = record["captureData"][side], fixture["captureData"][side]
        assert list(got) == list(want), side
        for name in ("observedContentType", "mode", "encoding"):
            assert got[name] == want[name], f"{side}.{name}"
        assert got["data"] == want["data"], f"{side}.data"  # the same PNG, the same probabilities
    assert record["eventMetadata"].keys() == fixture["eventMetadata"].keys()
    assert record["eventMetadata"]["inferenceId"] == fixture["eventMetadata"]["inferenceId"]
    assert record["eventMetadata"]["inferenceTime"] == fixture["eventMetadata"]["inferenceTime"]
    assert base64.b64decode(record["captureData"]["endpointInput"]["data"]) == png


def test_inference_id_is_only_present_when_given() -> None:
    sink = ListSink()
    w = writer(sink=sink)
    capture(w)
    w.flush()
    assert "inferenceId" not in sink.records()[0]["eventMetadata"]


@pytest.mark.parametrize(
    ("content_type", "body", "encoding"),
    [
        ("application/json", b"[0.5, 0.5]", "JSON"),
        ("Application/JSON; charset=utf-8", b"[0.5, 0.5]", "JSON"),
        ("text/csv; charset=utf-8", b"0.5,0.5", "CSV"),
        ("image/jpeg", b"\xff\xd8\xff\xe0", "BASE64"),
        ("application/json", b"\xff\xfe not utf-8", "BASE64"),
    ],
)
def test_encoding_follows_the_declared_content_types(content_type: str, body: bytes, encoding: str) -> None:
    sink = ListSink()
    w = writer(sink=sink)
    capture(w, body, input_content_type=content_type)
    w.flush()
    side = sink.records()[0]["captureData"]["endpointInput"]
    assert side["encoding"] == encoding
    assert side["observedContentType"] == content_type
    decoded = base64.b64decode(side["data"]) if encoding == "BASE64" else side["data"].encode()
    assert decoded == body


def test_without_a_content_type_header_everything_is_base64_as_the_api_documents() -> None:
    cfg = CaptureConfig.from_sagemaker(
        {k: v for k, v in data_capture().items() if k != "CaptureContentTypeHeader"}, endpoint_name="e", env={}
    )
    assert cfg is not None
    assert cfg.data_capture.encoding_for("application/json") == "BASE64"


# --- sampling and options --------------------------------------------------------------------------


def test_sampling_20_percent_of_1000_requests_is_within_4_sigma() -> None:
    n, p = 1000, 0.20
    sink = ListSink()
    w = writer(config(InitialSamplingPercentage=20), sink, rng=random.Random(20250314))
    taken = sum(capture(w) for _ in range(n))
    w.flush()
    sigma = math.sqrt(n * p * (1 - p))  # 12.6: the bound is 200 +- 50
    assert abs(taken - n * p) <= 4 * sigma, taken
    assert w.counters.captured == taken == len(sink.records())
    assert w.counters.skipped_by_sampling == n - taken


@pytest.mark.parametrize(("percentage", "expected"), [(0, 0), (100, 50)])
def test_sampling_extremes_are_exact(percentage: int, expected: int) -> None:
    w = writer(config(InitialSamplingPercentage=percentage), rng=random.Random(1))
    assert sum(capture(w) for _ in range(50)) == expected


@pytest.mark.parametrize(
    ("options", "sides"),
    [
        (["Input"], {"endpointInput"}),
        (["Output"], {"endpointOutput"}),
        (["Input", "Output"], {"endpointInput", "endpointOutput"}),
        (["InputAndOutput"], {"endpointInput", "endpointOutput"}),
    ],
)
def test_capture_options_omit_the_side_not_asked_for(options: list[str], sides: set[str]) -> None:
    sink = ListSink()
    w = writer(config(CaptureOptions=[{"CaptureMode": o} for o in options]), sink)
    capture(w)
    w.flush()
    [record] = sink.records()
    check_documented_format(record)
    assert set(record["captureData"]) == sides


# --- layout and rollover ---------------------------------------------------------------------------


def test_objects_land_under_destination_endpoint_variant_and_utc_hour() -> None:
    store = InMemoryObjectStore()
    w = open_capture_writer(config(), store=store, clock=Clock())
    capture(w)
    w.flush()
    [(bucket, key)] = store.objects
    assert bucket == "capture-bucket"
    prefix = "datacapture/digits-endpoint/AllTraffic/2025/03/14/09/"
    assert key.startswith(prefix), key
    name = key.removeprefix(prefix)
    assert FILE_NAME.match(name) and name.startswith("26-53-589-"), name


def test_a_bucket_without_prefix_and_a_local_directory(tmp_path: Path) -> None:
    store = InMemoryObjectStore()
    ObjectStoreSink(store, "s3://capture-bucket").write("e/v/2025/01/01/00/x.jsonl", b"{}\n")
    assert ("capture-bucket", "e/v/2025/01/01/00/x.jsonl") in store.objects

    cfg = config(DestinationS3Uri=f"file://{tmp_path}")
    w = open_capture_writer(cfg, clock=Clock())
    assert isinstance(w.sink, LocalDirectorySink)
    capture(w)
    w.flush()
    [path] = list(tmp_path.rglob("*.jsonl"))
    assert path.relative_to(tmp_path).parts[:6] == ("digits-endpoint", "AllTraffic", "2025", "03", "14", "09")
    assert not list(tmp_path.rglob("*.partial"))


def test_records_are_buffered_into_one_file_not_one_put_per_inference() -> None:
    store = InMemoryObjectStore()
    clock = Clock()
    w = open_capture_writer(config(), store=store, clock=clock)
    for _ in range(25):
        capture(w)
        clock.advance(0.1)
    assert store.objects == {}, "nothing is written before the window closes"
    w.flush()
    [(body, content_type)] = store.objects.values()
    assert len(body.splitlines()) == 25 and body.endswith(b"\n")
    assert content_type == "application/jsonlines"


def test_a_new_hour_starts_a_new_file_in_its_own_directory() -> None:
    sink = ListSink()
    clock = Clock(datetime(2025, 3, 14, 9, 59, 59, 900_000, tzinfo=UTC))
    w = writer(sink=sink, clock=clock)
    capture(w)
    clock.advance(0.2)  # 10:00:00.100
    capture(w)
    w.flush()
    hours = sorted(path.split("/")[5] for path in sink.files)
    assert hours == ["09", "10"]
    assert all(len(body.splitlines()) == 1 for body in sink.files.values())


def test_a_file_is_written_once_its_first_record_is_max_age_old() -> None:
    sink = ListSink()
    clock = Clock()
    w = writer(config(max_age_seconds=5), sink, clock)
    capture(w)
    clock.advance(4)
    capture(w)
    w.flush_if_due()
    assert sink.files == {}, "4 s old: not due"
    clock.advance(1)
    w.flush_if_due()
    [body] = sink.files.values()
    assert len(body.splitlines()) == 2
    clock.advance(1)
    capture(w)
    clock.advance(6)
    capture(w)  # the buffer it would join is too old: it goes out first
    assert len(sink.files) == 2


def test_the_background_thread_flushes_without_being_asked() -> None:
    sink = ListSink()
    w = CaptureWriter(config(max_age_seconds=0.2), sink, background=True)
    try:
        capture(w)
        deadline = time.monotonic() + 3
        while not sink.files and time.monotonic() < deadline:
            time.sleep(0.02)
        assert len(sink.files) == 1
    finally:
        w.close()


def test_size_rolls_over_and_no_file_exceeds_the_limit() -> None:
    sink = ListSink()
    probe = writer(sink=ListSink())
    capture(probe)
    probe.flush()
    line_size = len(next(iter(probe.sink.files.values())))  # type: ignore[attr-defined]
    w = writer(config(max_file_bytes=3 * line_size + 10), sink)
    for _ in range(10):
        capture(w)
    w.flush()
    sizes = sorted(len(body.splitlines()) for body in sink.files.values())
    assert sizes == [1, 3, 3, 3]
    assert all(len(body) <= 3 * line_size + 10 for body in sink.files.values())
    assert len(sink.records()) == 10


def test_concurrent_captures_lose_nothing() -> None:
    sink = ListSink()
    w = writer(config(max_file_bytes=20_000), sink)
    threads = [threading.Thread(target=lambda: [capture(w) for _ in range(50)]) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    w.flush()
    records = sink.records()
    assert len(records) == 400 == w.counters.written_records
    assert len({r["eventMetadata"]["eventId"] for r in records}) == 400


# --- failure ---------------------------------------------------------------------------------------


def test_a_failing_sink_never_raises_and_is_counted() -> None:
    sink = FailingSink()
    w = writer(sink=sink)
    assert capture(w) and capture(w)
    w.flush()  # must not raise
    assert w.counters.failed_writes == 1
    assert w.counters.dropped_records == 2
    assert w.counters.files_written == 0

    sink.fail = False  # the next window writes normally
    capture(w)
    w.flush()
    assert w.counters.files_written == 1 and len(sink.inner.records()) == 1


def test_a_record_that_cannot_be_built_is_dropped_not_raised() -> None:
    w = writer()
    not_bytes: Any = None  # what a buggy caller might pass
    assert not w.capture(
        input_body=not_bytes, input_content_type="image/png", output_body=b"[]", output_content_type="x"
    )
    assert w.counters.dropped_records == 1


# --- configuration ---------------------------------------------------------------------------------


def test_sagemakers_own_dict_is_parsed() -> None:
    cfg = CaptureConfig.from_sagemaker(
        data_capture(InitialSamplingPercentage=35, KmsKeyId="alias/capture"), endpoint_name="ep", variant_name="blue"
    )
    assert cfg is not None
    assert cfg.data_capture.initial_sampling_percentage == 35
    assert (cfg.endpoint_name, cfg.variant_name) == ("ep", "blue")
    assert cfg.data_capture.captures_input and cfg.data_capture.captures_output


@pytest.mark.parametrize("value", [None, {}, {"EnableCapture": False, "DestinationS3Uri": "s3://b"}])
def test_absent_or_disabled_capture_is_none(value: dict[str, Any] | None) -> None:
    assert CaptureConfig.from_sagemaker(value, endpoint_name="ep") is None


@pytest.mark.parametrize(
    ("override", "match"),
    [
        ({"InitialSamplingPercentage": 101}, "InitialSamplingPercentage"),
        ({"DestinationS3Uri": "bucket/prefix"}, "DestinationS3Uri"),
        ({"CaptureOptions": []}, "CaptureOptions"),
        ({"CaptureOptions": [{"CaptureMode": "Both"}]}, "CaptureMode"),
        ({"CaptureOption": [{"CaptureMode": "Input"}]}, "CaptureOption"),
    ],
)
def test_an_invalid_sagemaker_dict_is_a_config_error(override: dict[str, Any], match: str) -> None:
    with pytest.raises(ConfigError, match=match):
        CaptureConfig.from_sagemaker(data_capture(**override), endpoint_name="ep")


def test_from_env_is_off_without_a_destination_and_has_lambda_defaults() -> None:
    assert CaptureConfig.from_env({}) is None
    cfg = CaptureConfig.from_env({"CAPTURE_DESTINATION_S3_URI": "s3://capture-bucket/dc"})
    assert cfg is not None
    assert (cfg.endpoint_name, cfg.variant_name) == ("litert-in-lambda", "AllTraffic")
    assert cfg.data_capture.initial_sampling_percentage == 100
    assert cfg.data_capture.captures_input and cfg.data_capture.captures_output
    assert cfg.data_capture.encoding_for("application/json") == "JSON"
    assert cfg.data_capture.encoding_for("text/csv") == "CSV"


def test_from_env_reads_every_variable() -> None:
    cfg = CaptureConfig.from_env(
        {
            "CAPTURE_DESTINATION_S3_URI": "s3://capture-bucket/dc",
            "CAPTURE_SAMPLING_PERCENTAGE": "20",
            "CAPTURE_OPTIONS": "Output",
            "CAPTURE_JSON_CONTENT_TYPES": "application/json, application/jsonlines",
            "CAPTURE_ENDPOINT_NAME": "digits-in-lambda",
            "CAPTURE_VARIANT": "canary",
            "CAPTURE_MAX_AGE_SECONDS": "0.5",
            "CAPTURE_MAX_FILE_BYTES": "65536",
        }
    )
    assert cfg is not None
    assert cfg.data_capture.initial_sampling_percentage == 20
    assert not cfg.data_capture.captures_input and cfg.data_capture.captures_output
    assert cfg.data_capture.encoding_for("application/jsonlines") == "JSON"
    assert (cfg.endpoint_name, cfg.variant_name, cfg.max_age_seconds, cfg.max_file_bytes) == (
        "digits-in-lambda",
        "canary",
        0.5,
        65536,
    )


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("CAPTURE_SAMPLING_PERCENTAGE", "twenty"),
        ("CAPTURE_SAMPLING_PERCENTAGE", "150"),
        ("CAPTURE_OPTIONS", "Everything"),
        ("CAPTURE_MAX_AGE_SECONDS", "0"),
        ("CAPTURE_ENDPOINT_NAME", "has spaces"),
    ],
)
def test_a_bad_variable_is_a_config_error_naming_it(variable: str, value: str) -> None:
    with pytest.raises(ConfigError, match=variable):
        CaptureConfig.from_env({"CAPTURE_DESTINATION_S3_URI": "s3://capture-bucket/dc", variable: value})


def test_document_shape_is_validated_strictly() -> None:
    with pytest.raises(ValueError, match="extra"):
        DataCaptureConfig.parse({**data_capture(), "Unknown": 1})


def test_no_capture_in_lambda_for_the_sagemaker_backend(monkeypatch) -> None:
    monkeypatch.setenv("CAPTURE_DESTINATION_S3_URI", "s3://capture-bucket/datacapture")
    monkeypatch.setenv("BACKEND", "sagemaker")
    monkeypatch.setenv("ENDPOINT_NAME", "digits-endpoint")
    assert classify_root.build().capture is None


def test_capture_keeps_boto3_off_the_cold_start_import_path() -> None:
    env = {"CAPTURE_DESTINATION_S3_URI": "s3://capture-bucket/dc", "MODEL_DIR": str(BUNDLE_DIR)}
    assert init_imports("classify", env, ("boto3",), "app.deps.capture") == []


@pytest.mark.parametrize(
    ("options", "header"),
    [
        ([{"CaptureMode": "Input"}, {"CaptureMode": "Output"}], {"CsvContentTypes": ["text/csv"]}),
        ([{"CaptureMode": "InputAndOutput"}], {"JsonContentTypes": ["application/json", "text/plain"]}),
        ([{"CaptureMode": "Input"}], None),
        ([{"CaptureMode": "Output"}], {"CsvContentTypes": ["text/csv"], "JsonContentTypes": ["application/json"]}),
    ],
    ids=["both-csv", "json-and-text", "input-only-base64", "output-only"],
)
@pytest.mark.parametrize(
    ("input_type", "body"),
    [
        ("image/png", b"\x89PNG\r\n\x1a\n\x00\xff"),
        ("text/csv", '1,2,"é"\n3'.encode()),
        ("application/json", json.dumps({"q": '\u2603 "x"\\'}).encode()),
        ("text/plain; charset=utf-8", b"\xff not utf-8 \x00"),
        ("application/json", b""),
    ],
    ids=["png", "csv-unicode", "json-escapes", "text-not-utf8", "empty"],
)
def test_the_fast_encoder_writes_exactly_what_json_dumps_writes(options, header, input_type: str, body: bytes) -> None:
    capture_config = DataCaptureConfig.parse(data_capture(CaptureOptions=options, CaptureContentTypeHeader=header))
    when = datetime(2026, 11, 30, 2, 3, 4, 567891, tzinfo=UTC)
    for inference_id in (None, "", 'id "quoted" \u00e9'):
        kwargs: dict[str, Any] = {
            "input_body": body,
            "input_content_type": input_type,
            "output_body": json.dumps(PROBS).encode(),
            "output_content_type": "application/json",
            "inference_time": when,
            "event_id": "0b7e3c6e-1d39-4f0e-9d3a-1c6d2b8f4a55",
            "inference_id": inference_id,
        }
        expected = json.dumps(build_record(capture_config, **kwargs), separators=(",", ":"))
        encoder = RecordEncoder(capture_config)
        assert encoder.encode(**kwargs) == expected
        assert encoder.encode(**kwargs) == expected  # and again, from its cache
        assert encoder.encode(**kwargs).isascii()


def test_event_ids_are_random_version_4_uuids() -> None:
    ids = {event_id_v4() for _ in range(2000)}
    assert len(ids) == 2000
    for text in list(ids)[:200]:
        parsed = uuid.UUID(text)
        assert (parsed.version, parsed.variant, str(parsed)) == (4, uuid.RFC_4122, text)
