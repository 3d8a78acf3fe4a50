"""The capture loader against files laid out as SageMaker data capture writes them.

Records here are written out by hand from the documented format, not with
``capture_record``, so a mistake shared by the writer and the reader cannot hide.
"""

from __future__ import annotations

import base64
import json
import logging
import math
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import boto3
import pandas as pd
import pytest
from moto import mock_aws
from moto.server import ThreadedMotoServer

from sfn_inference.datacapture.writer import capture_path
from sfn_workbench.capture_reader import (
    COLUMNS,
    CapturePath,
    CaptureSourceError,
    SkippedLine,
    capture_record,
    drift,
    label_distribution,
    load_captures,
    low_confidence_share,
    parse_capture_path,
)

LABELS = [str(d) for d in range(10)]
PNG = b"\x89PNG\r\n\x1a\n" + b"not really an image, but bytes are bytes"


def probs(best: int, confidence: float) -> list[float]:
    rest = (1.0 - confidence) / 9
    return [confidence if i == best else rest for i in range(10)]


def record(
    time: str,
    *,
    best: int | None = 7,
    confidence: float = 0.97,
    image: bytes | None = PNG,
    output_encoding: str = "JSON",
    inference_id: str | None = None,
) -> dict[str, Any]:
    capture: dict[str, Any] = {}
    if image is not None:
        capture["endpointInput"] = {
            "observedContentType": "image/png",
            "mode": "INPUT",
            "data": base64.b64encode(image).decode(),
            "encoding": "BASE64",
        }
    if best is not None:
        values = probs(best, confidence)
        if output_encoding == "JSON":
            out = {"observedContentType": "application/json", "data": json.dumps(values), "encoding": "JSON"}
        elif output_encoding == "CSV":
            out = {"observedContentType": "text/csv", "data": ",".join(map(str, values)), "encoding": "CSV"}
        else:  # the endpoint did not declare JSON, so capture stored the body as BASE64
            data = base64.b64encode(json.dumps(values).encode()).decode()
            out = {"observedContentType": "application/octet-stream", "data": data, "encoding": "BASE64"}
        capture["endpointOutput"] = {"mode": "OUTPUT", **out}
    metadata = {"eventId": f"event-{time}", "inferenceTime": time}
    if inference_id:
        metadata["inferenceId"] = inference_id
    return {"captureData": capture, "eventMetadata": metadata, "eventVersion": "0"}


def hour_dir(root: Path, endpoint: str, variant: str, hour: str) -> Path:
    """``hour`` as ``2026-11-22T10``."""
    day, hh = hour.split("T")
    yyyy, mm, dd = day.split("-")
    path = root / endpoint / variant / yyyy / mm / dd / hh
    path.mkdir(parents=True, exist_ok=True)
    return path


def write(path: Path, lines: list[dict[str, Any] | str], *, trailing_newline: bool = True) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    text = "\n".join(line if isinstance(line, str) else json.dumps(line) for line in lines)
    path.write_text(text + ("\n" if trailing_newline else ""))
    return path


@pytest.fixture
def captures(tmp_path: Path) -> Path:
    """Two endpoints x two variants x two hours, three requests per file, one file per hour."""
    root = tmp_path / "datacapture"
    for e, endpoint in enumerate(["digits", "digits-canary"]):
        for v, variant in enumerate(["AllTraffic", "Shadow"]):
            for hh in ("10", "11"):
                lines: list[dict[str, Any] | str] = [
                    record(f"2026-11-22T{hh}:{e}{v}:{n:02d}.500Z", best=n, confidence=0.5 + n / 10) for n in range(3)
                ]
                write(hour_dir(root, endpoint, variant, f"2026-11-22T{hh}") / "05-00-000-a.jsonl", lines)
    return root


# --- the loader -----------------------------------------------------------------------------------


def test_every_line_of_every_file_is_loaded(captures: Path) -> None:
    df = load_captures(captures, labels=LABELS)
    assert len(df) == 2 * 2 * 2 * 3
    assert df.attrs["skipped"] == []
    assert list(df.columns) == COLUMNS
    assert sorted(df["line_no"].unique()) == [1, 2, 3]
    counts = df.groupby(["endpoint", "variant"]).size().to_dict()
    assert counts == {(e, v): 6 for e in ("digits", "digits-canary") for v in ("AllTraffic", "Shadow")}
    assert df["time"].is_monotonic_increasing
    assert str(df["time"].dt.tz) == "UTC"


def test_a_row_carries_label_confidence_probabilities_and_provenance(tmp_path: Path) -> None:
    path = write(
        hour_dir(tmp_path, "digits", "AllTraffic", "2026-11-22T10") / "00-01-234-f.jsonl",
        [record("2026-11-22T10:00:01.234Z", best=3, confidence=0.9, inference_id="req-1")],
    )
    row = load_captures(tmp_path, labels=[f"digit-{d}" for d in range(10)]).iloc[0]
    assert row["time"] == pd.Timestamp("2026-11-22T10:00:01.234", tz="UTC")
    assert row["event_id"] == "event-2026-11-22T10:00:01.234Z"
    assert row["inference_id"] == "req-1"
    assert (row["endpoint"], row["variant"]) == ("digits", "AllTraffic")
    assert row["label"] == "digit-3"
    assert row["confidence"] == pytest.approx(0.9)
    assert row["probabilities"] == pytest.approx(probs(3, 0.9))
    assert row["input_content_type"] == "image/png"
    assert (row["source_file"], row["line_no"]) == (str(path), 1)


def test_without_labels_the_label_is_the_argmax_index(captures: Path) -> None:
    df = load_captures(captures)
    assert set(df["label"]) == {"0", "1", "2"}


def test_the_time_window_is_start_inclusive_end_exclusive(captures: Path) -> None:
    df = load_captures(captures, start="2026-11-22T10:00:01.500Z", end=datetime(2026, 11, 22, 11, 0, 1, 500000))
    times = sorted({t.strftime("%H:%M:%S") for t in df["time"]})
    assert times[0] == "10:00:01" and times[-1] == "11:00:00"
    assert (df["time"] >= pd.Timestamp("2026-11-22T10:00:01.5Z")).all()
    assert (df["time"] < pd.Timestamp("2026-11-22T11:00:01.5Z")).all()  # a naive end is taken as UTC
    assert len(df) == 12 - 1 + 1  # hour 10 minus its first request, plus hour 11's first


def test_the_window_prunes_hour_directories_before_reading_them(captures: Path) -> None:
    # Unreadable files in hours outside the window would be reported if they were read.
    for hour in ("2026-11-22T08", "2026-11-22T13", "2026-11-23T10"):
        write(hour_dir(captures, "digits", "AllTraffic", hour) / "00-00-000-x.jsonl", ["{not json"])
    df = load_captures(captures, start="2026-11-22T10:00:00Z", end="2026-11-22T11:00:00Z")
    assert len(df) == 12
    assert df.attrs["skipped"] == []
    assert len(load_captures(captures).attrs["skipped"]) == 3


def test_a_record_flushed_into_the_next_hour_directory_is_still_found(tmp_path: Path) -> None:
    write(
        hour_dir(tmp_path, "digits", "AllTraffic", "2026-11-22T11") / "00-02-000-late.jsonl",
        [record("2026-11-22T10:59:58.000Z")],
    )
    df = load_captures(tmp_path, start="2026-11-22T10:00:00Z", end="2026-11-22T11:00:00Z")
    assert len(df) == 1


def test_input_only_and_output_only_records(tmp_path: Path) -> None:
    write(
        hour_dir(tmp_path, "digits", "AllTraffic", "2026-11-22T10") / "00-00-000-a.jsonl",
        [record("2026-11-22T10:00:00Z", best=None), record("2026-11-22T10:00:01Z", best=4, image=None)],
    )
    df = load_captures(tmp_path, labels=LABELS, include_input=True)
    input_only, output_only = df.iloc[0], df.iloc[1]
    assert input_only["label"] is None and math.isnan(input_only["confidence"])
    assert input_only["probabilities"] is None
    assert input_only["input_bytes"] == PNG and input_only["input_content_type"] == "image/png"
    assert output_only["label"] == "4" and output_only["confidence"] == pytest.approx(0.97)
    assert output_only["input_bytes"] is None and output_only["input_content_type"] is None
    assert label_distribution(df).to_dict() == {"4": 1.0}  # the input-only record has no label


@pytest.mark.parametrize("encoding", ["BASE64", "CSV"])
def test_outputs_captured_as_base64_or_csv_are_decoded(tmp_path: Path, encoding: str) -> None:
    write(
        hour_dir(tmp_path, "digits", "AllTraffic", "2026-11-22T10") / "00-00-000-a.jsonl",
        [record("2026-11-22T10:00:00Z", best=8, confidence=0.88, output_encoding=encoding)],
    )
    row = load_captures(tmp_path, labels=LABELS).iloc[0]
    assert row["label"] == "8"
    assert row["probabilities"] == pytest.approx(probs(8, 0.88))


def test_input_bytes_only_on_request(captures: Path) -> None:
    assert "input_bytes" not in load_captures(captures).columns
    df = load_captures(captures, include_input=True)
    assert list(df.columns) == [*COLUMNS, "input_bytes"]
    assert (df["input_bytes"] == PNG).all()


def test_corrupt_lines_are_reported_and_every_good_line_still_loads(tmp_path: Path, caplog) -> None:
    good = [record(f"2026-11-22T10:00:0{n}Z", best=n) for n in range(4)]
    missing_capture = {"eventMetadata": {"eventId": "x", "inferenceTime": "2026-11-22T10:00:05Z"}}
    truncated = json.dumps(record("2026-11-22T10:00:09Z"))[:-40]  # the writer died mid-line
    path = write(
        hour_dir(tmp_path, "digits", "AllTraffic", "2026-11-22T10") / "00-00-000-a.jsonl",
        [good[0], "{not json", good[1], "", missing_capture, good[2], "[1, 2]", good[3], truncated],
        trailing_newline=False,
    )
    with caplog.at_level(logging.WARNING, logger="sfn_workbench.capture_reader"):
        df = load_captures(tmp_path)
    assert sorted(df["label"]) == ["0", "1", "2", "3"]
    assert list(df["line_no"]) == [1, 3, 6, 8]
    skipped = df.attrs["skipped"]
    assert [(s.file, s.line_no) for s in skipped] == [(str(path), 2), (str(path), 5), (str(path), 7), (str(path), 9)]
    assert all(isinstance(s, SkippedLine) for s in skipped)
    assert skipped[0].reason.startswith("line contains invalid json")
    assert skipped[1].reason == "no captureData object"
    assert skipped[2].reason == "line does not match requested type"
    assert skipped[3].reason.startswith("truncated last line: line contains invalid json")
    assert [r.getMessage() for r in caplog.records if "skipped capture line" in r.getMessage()] == [
        f"skipped capture line {s.file}:{s.line_no}: {s.reason}" for s in skipped
    ]


@pytest.mark.parametrize(
    ("mangle", "reason"),
    [
        (lambda r: r.pop("eventMetadata"), "no eventMetadata object"),
        (lambda r: r["eventMetadata"].update(inferenceTime="yesterday"), "is not an ISO-8601 time"),
        (lambda r: r["captureData"].clear(), "neither endpointInput nor endpointOutput"),
        (lambda r: r["captureData"]["endpointOutput"].update(data="[0.5, 0.5"), "endpointOutput.data is not JSON"),
        (lambda r: r["captureData"]["endpointOutput"].update(data='["a", "b"]'), "not a list of finite numbers"),
        (lambda r: r["captureData"]["endpointOutput"].update(data="[0.3, 0.7]"), "2 probabilities but 10 labels"),
        (lambda r: r["captureData"]["endpointOutput"].update(encoding="XML"), "is not JSON, CSV or BASE64"),
        (lambda r: r["captureData"]["endpointInput"].update(data="%%%"), "endpointInput.data is not valid base64"),
    ],
)
def test_unusable_records_are_skipped_with_a_reason(tmp_path: Path, mangle, reason: str) -> None:
    bad = record("2026-11-22T10:00:01Z")
    mangle(bad)
    write(
        hour_dir(tmp_path, "digits", "AllTraffic", "2026-11-22T10") / "00-00-000-a.jsonl",
        [record("2026-11-22T10:00:00Z"), bad],
    )
    df = load_captures(tmp_path, labels=LABELS, include_input=True)
    assert len(df) == 1
    [skipped] = df.attrs["skipped"]
    assert skipped.line_no == 2 and reason in skipped.reason


def test_nothing_matching_gives_an_empty_frame_with_the_columns(captures: Path, tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    for df in (load_captures(empty), load_captures(captures, start="2030-01-01", end="2030-01-02")):
        assert df.empty and list(df.columns) == COLUMNS
        assert str(df["time"].dtype) == "datetime64[ns, UTC]" and df["confidence"].dtype == "float64"
        assert df.attrs["skipped"] == []
        assert label_distribution(df).empty
        assert math.isnan(low_confidence_share(df, 0.93))


def test_bad_sources_and_windows_are_named_errors(tmp_path: Path) -> None:
    with pytest.raises(CaptureSourceError, match="is not a directory"):
        load_captures(tmp_path / "missing")
    with pytest.raises(CaptureSourceError, match="names no bucket"):
        load_captures("s3:///prefix")
    with pytest.raises(ValueError, match="empty time window"):
        load_captures(tmp_path, start="2026-11-22T11:00Z", end="2026-11-22T10:00Z")


def test_the_source_may_point_below_the_capture_root(captures: Path) -> None:
    df = load_captures(captures / "digits-canary" / "Shadow" / "2026" / "11" / "22")
    assert len(df) == 6
    assert set(df["endpoint"]) == {"digits-canary"} and set(df["variant"]) == {"Shadow"}


def test_files_outside_the_capture_layout_are_read_without_endpoint_or_variant(tmp_path: Path) -> None:
    write(tmp_path / "loose.jsonl", [record("2026-11-22T10:00:00Z")])
    row = load_captures(tmp_path).iloc[0]
    assert row["endpoint"] is None and row["variant"] is None and row["label"] == "7"


def test_parse_capture_path() -> None:
    key = "s3://b/capture/digits/AllTraffic/2026/11/22/10/05-00-123-abc.jsonl"
    assert parse_capture_path(key) == CapturePath("digits", "AllTraffic", datetime(2026, 11, 22, 10, tzinfo=UTC))
    assert parse_capture_path("digits/AllTraffic/2026/13/22/10/x.jsonl") is None  # month 13
    assert parse_capture_path("digits/AllTraffic/2026/11/22/x.jsonl") is None


def test_the_writer_round_trips_through_the_loader(tmp_path: Path) -> None:
    when = datetime(2026, 11, 22, 10, 5, 7, 123456, tzinfo=UTC)
    key = capture_path("digits", "AllTraffic", when, file_id="f00d")
    assert key == "digits/AllTraffic/2026/11/22/10/05-07-123-f00d.jsonl"
    rec = capture_record(when, input_data=PNG, output=probs(2, 0.6), output_content_type="application/x-npy")
    assert rec["captureData"]["endpointOutput"]["encoding"] == "BASE64"
    assert rec["eventMetadata"]["inferenceTime"] == "2026-11-22T10:05:07.123Z"
    write(tmp_path / key, [rec])
    row = load_captures(tmp_path, include_input=True).iloc[0]
    assert (row["label"], row["input_bytes"], row["endpoint"]) == ("2", PNG, "digits")
    assert row["time"] == pd.Timestamp("2026-11-22T10:05:07.123Z")


# --- S3 ---------------------------------------------------------------------------------------------


@pytest.fixture
def aws_env(monkeypatch) -> None:
    for name in ("AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")


def upload_tree(root: Path, bucket: str, prefix: str) -> None:
    s3 = boto3.client("s3")
    for path in root.rglob("*.jsonl"):
        s3.put_object(Bucket=bucket, Key=f"{prefix}/{path.relative_to(root).as_posix()}", Body=path.read_bytes())


@pytest.mark.usefixtures("aws_env")
def test_s3_source_lists_every_page_and_loads_every_line(captures: Path) -> None:
    with mock_aws():
        s3 = boto3.client("s3")
        s3.create_bucket(Bucket="captures")
        upload_tree(captures, "captures", "datacapture")
        # More than one ListObjectsV2 page (1000 keys) under the prefix, and a sibling prefix to ignore.
        for n in range(1001):
            s3.put_object(Bucket="captures", Key=f"datacapture/aaa-filler/{n:04d}.txt", Body=b"")
        s3.put_object(Bucket="captures", Key="datacapture-old/x/y/2026/11/22/10/a.jsonl", Body=b"{broken")
        bad_key = "datacapture/digits/AllTraffic/2026/11/22/10/09-00-000-bad.jsonl"
        s3.put_object(Bucket="captures", Key=bad_key, Body=b"{broken\n")

        df = load_captures("s3://captures/datacapture", labels=LABELS, include_input=True)
        window = load_captures("s3://captures/datacapture/", start="2026-11-22T11:00Z")

    assert len(df) == 24 and (df["input_bytes"] == PNG).all()
    assert df["source_file"].str.startswith("s3://captures/datacapture/").all()
    [skipped] = df.attrs["skipped"]
    assert (skipped.file, skipped.line_no) == (f"s3://captures/{bad_key}", 1)
    assert skipped.reason.startswith("line contains invalid json")
    assert len(window) == 12 and window.attrs["skipped"] == []


@pytest.mark.usefixtures("aws_env")
def test_s3_errors_are_capture_source_errors() -> None:
    with mock_aws(), pytest.raises(CaptureSourceError, match="NoSuchBucket"):
        load_captures("s3://no-such-bucket/datacapture")


@pytest.mark.usefixtures("aws_env")
def test_s3_source_honours_aws_endpoint_url(captures: Path, monkeypatch) -> None:
    """The local cloud is a moto server reached through AWS_ENDPOINT_URL, over real HTTP."""
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    try:
        host, port = server.get_host_and_port()
        monkeypatch.setenv("AWS_ENDPOINT_URL", f"http://{host}:{port}")
        boto3.client("s3").create_bucket(Bucket="local-captures")
        upload_tree(captures, "local-captures", "dc")
        df = load_captures("s3://local-captures/dc")
    finally:
        server.stop()
    assert len(df) == 24


# --- analysis helpers -------------------------------------------------------------------------------


def labelled(labels: list[str], confidences: list[float] | None = None) -> pd.DataFrame:
    return pd.DataFrame({"label": labels, "confidence": confidences or [0.99] * len(labels)})


def test_label_distribution_is_shares_of_labelled_rows() -> None:
    df = labelled(["1", "0", "1", "1"])
    assert label_distribution(df).to_dict() == {"0": 0.25, "1": 0.75}


def test_low_confidence_share_uses_the_filters_strict_less_than() -> None:
    df = pd.DataFrame({"label": ["a", "b", "c", None], "confidence": [0.5, 0.93, 0.99, math.nan]})
    assert low_confidence_share(df, 0.93) == pytest.approx(1 / 3)  # 0.93 itself passes; NaN is not counted


def test_drift_against_a_matching_distribution_is_zero() -> None:
    table = drift(labelled(["0", "1", "1", "0"]), {"0": 0.5, "1": 0.5})
    assert table.attrs["total_variation"] == 0.0 and table.attrs["chi_square"] == 0.0
    assert table.attrs["n"] == 4 and table.attrs["dof"] == 1


def test_drift_by_hand() -> None:
    # 10 observations 7/3/0 against 0.5/0.25/0.25 (given as unnormalised 2/1/1).
    table = drift(labelled(["a"] * 7 + ["b"] * 3), {"a": 2, "b": 1, "c": 1})
    assert list(table.index) == ["a", "b", "c"]
    assert table["count"].tolist() == [7, 3, 0]
    assert table["observed"].tolist() == pytest.approx([0.7, 0.3, 0.0])
    assert table["reference"].tolist() == pytest.approx([0.5, 0.25, 0.25])
    assert table["difference"].tolist() == pytest.approx([0.2, 0.05, -0.25])
    assert table.attrs["total_variation"] == pytest.approx(0.25)
    # (7-5)²/5 + (3-2.5)²/2.5 + (0-2.5)²/2.5
    assert table.attrs["chi_square"] == pytest.approx(0.8 + 0.1 + 2.5)
    assert table["chi_square"].tolist() == pytest.approx([0.8, 0.1, 2.5])


def test_drift_with_a_label_the_reference_never_saw() -> None:
    table = drift(labelled(["a", "z"]), {"a": 1.0})
    assert list(table.index) == ["a", "z"]
    assert table.loc["z", "reference"] == 0.0 and table.loc["z", "observed"] == 0.5
    assert table.attrs["total_variation"] == pytest.approx(0.5)
    assert math.isinf(table.attrs["chi_square"])


def test_drift_of_nothing_and_bad_references() -> None:
    table = drift(labelled([]), {"a": 0.5, "b": 0.5})
    assert table["count"].tolist() == [0, 0] and math.isnan(table.attrs["total_variation"])
    for bad in ({}, {"a": -0.1, "b": 1.1}, {"a": 0.0}):
        with pytest.raises(ValueError, match="non-negative shares"):
            drift(labelled(["a"]), bad)
