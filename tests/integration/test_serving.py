"""serving/server.py as SageMaker runs it: a real process, over HTTP, on a free port."""

from __future__ import annotations

import http.client
import io
import json
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image

from sfn_inference.core.bundle import ModelBundle
from sfn_inference.core.imaging import image_to_tensor
from support import BUNDLE_DIR, ROOT

SERVER = ROOT / "serving" / "server.py"
REFERENCE = "3_00023.png"


@dataclass
class Server:
    url: str
    process: subprocess.Popen[bytes]
    capture_dir: Path

    def post(self, body: bytes, content_type: str | None, headers: dict[str, str] | None = None) -> tuple[int, Any]:
        request = urllib.request.Request(f"{self.url}/invocations", data=body, method="POST", headers=headers or {})
        if content_type is not None:
            request.add_header("Content-Type", content_type)
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                return response.status, json.loads(response.read())
        except urllib.error.HTTPError as error:
            assert error.headers["Content-Type"] == "application/json"
            return error.code, json.loads(error.read())


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def wait_for_ping(url: str, process: subprocess.Popen[bytes], timeout_s: float = 30) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        assert process.poll() is None, "the server exited before answering /ping"
        try:
            with urllib.request.urlopen(f"{url}/ping", timeout=1) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.05)
    raise AssertionError(f"no /ping from {url} within {timeout_s} s")


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    port = free_port()
    capture_dir = tmp_path_factory.mktemp("capture")
    env = {
        **os.environ,
        # Capture configured the standalone way (environment), to a local directory.
        "CAPTURE_DESTINATION_S3_URI": f"file://{capture_dir}",
        "CAPTURE_ENDPOINT_NAME": "digits-endpoint",
        "CAPTURE_MAX_AGE_SECONDS": "0.2",
        "LITERT_NUM_THREADS": "2",
    }
    command = [sys.executable, str(SERVER), "serve", "--model-dir", str(BUNDLE_DIR), "--host", "127.0.0.1"]
    process = subprocess.Popen([*command, "--port", str(port)], env=env)
    try:
        url = f"http://127.0.0.1:{port}"
        wait_for_ping(url, process)
        yield Server(url, process, capture_dir)
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@pytest.fixture(scope="module")
def recorded() -> dict[str, list[float]]:
    return ModelBundle(BUNDLE_DIR).reference_predictions


def as_jpeg(png: bytes) -> bytes:
    out = io.BytesIO()
    Image.open(io.BytesIO(png)).convert("RGB").save(out, "JPEG", quality=95)
    return out.getvalue()


@pytest.mark.parametrize("content_type", ["image/png", "application/x-image", "image/png; charset=binary"])
def test_an_image_gives_the_recorded_probabilities(server: Server, reference_pngs, recorded, content_type) -> None:
    status, body = server.post(reference_pngs[REFERENCE], content_type)
    assert status == 200
    assert isinstance(body, list) and len(body) == 10
    np.testing.assert_allclose(body, recorded[REFERENCE], atol=1e-4)


def test_a_jpeg_is_classified(server: Server, reference_pngs) -> None:
    status, body = server.post(as_jpeg(reference_pngs["0_00048.png"]), "image/jpeg")
    assert status == 200
    assert int(np.argmax(body)) == 0


def test_a_16_bit_grey_png_is_scaled_not_clipped(server: Server, reference_pngs) -> None:
    """The SageMaker backend decodes as LiteRT does: a 16-bit grey "7" used to come back "4" at 0.9998."""
    grey = np.asarray(Image.open(io.BytesIO(reference_pngs["7_00017.png"])))[..., 0].astype(np.uint16) * 257
    out = io.BytesIO()
    Image.fromarray(grey).save(out, "PNG")
    status, body = server.post(out.getvalue(), "image/png")
    assert status == 200
    assert int(np.argmax(body)) == 7


def test_a_body_over_6_mb_is_refused_from_its_headers(server: Server) -> None:
    """Refused before a byte of it is read (a client still sending then sees a broken pipe)."""
    host, port = server.url.removeprefix("http://").split(":")
    connection = http.client.HTTPConnection(host, int(port), timeout=10)
    try:
        connection.putrequest("POST", "/invocations")
        connection.putheader("Content-Type", "image/png")
        connection.putheader("Content-Length", str(6 * 1024 * 1024 + 1))
        connection.endheaders()
        response = connection.getresponse()
        assert (response.status, json.loads(response.read())["error"]) == (413, "PayloadTooLargeError")
    finally:
        connection.close()


def test_a_json_tensor_single_and_batched(server: Server, reference_pngs, recorded) -> None:
    spec = ModelBundle(BUNDLE_DIR).preprocessing
    names = [REFERENCE, "7_00017.png"]
    tensors = [image_to_tensor(reference_pngs[n], spec) for n in names]

    status, single = server.post(json.dumps(tensors[0].tolist()).encode(), "application/json")
    assert status == 200
    np.testing.assert_allclose(single, recorded[REFERENCE], atol=1e-4)

    status, batch = server.post(json.dumps(np.stack(tensors).tolist()).encode(), "application/json")
    assert status == 200
    assert len(batch) == 2
    for name, probs in zip(names, batch, strict=True):
        np.testing.assert_allclose(probs, recorded[name], atol=1e-4)


def test_ping_and_unknown_routes(server: Server) -> None:
    with urllib.request.urlopen(f"{server.url}/ping", timeout=5) as response:
        assert response.status == 200
    with pytest.raises(urllib.error.HTTPError) as error:
        urllib.request.urlopen(f"{server.url}/models", timeout=5)
    assert error.value.code == 404


@pytest.mark.parametrize(
    ("body", "content_type", "status", "error"),
    [
        (b"a,b,c", "text/csv", 415, "UnsupportedContentTypeError"),
        (b"a=1", "application/x-www-form-urlencoded", 415, "UnsupportedContentTypeError"),
        (b"", "image/png", 400, "EmptyRequestError"),
        (b"", "application/json", 400, "EmptyRequestError"),
        (b"GIF89a not supported", "image/png", 400, "NotAnImageError"),
        (b"\x89PNG\r\n\x1a\n" + b"\0" * 64, "image/png", 400, "CorruptImageError"),
        (b"[[1, 2], [3]]", "application/json", 400, "InvalidTensorError"),
        (json.dumps(np.zeros((28, 28, 1)).tolist()).encode(), "application/json", 400, "InvalidTensorError"),
        (json.dumps(np.zeros((2, 32, 32, 1)).tolist()).encode(), "application/json", 400, "InvalidTensorError"),
        (json.dumps([[["x"] * 3] * 32] * 32).encode(), "application/json", 400, "InvalidTensorError"),
        (b"{not json", "application/json", 400, "InvalidTensorError"),
    ],
    ids=[
        "csv",
        "form-urlencoded",
        "empty-image",
        "empty-tensor",
        "not-an-image",
        "corrupt-png",
        "ragged-tensor",
        "wrong-shape",
        "wrong-channels",
        "strings",
        "not-json",
    ],
)
def test_bad_input_is_a_4xx_with_a_named_error(server: Server, body, content_type, status, error) -> None:
    got_status, got = server.post(body, content_type)
    assert got_status == status
    assert got["error"] == error
    assert isinstance(got["message"], str) and got["message"]


def test_a_tiny_image_is_incompatible(server: Server) -> None:
    tiny = io.BytesIO()
    Image.new("RGB", (4, 4)).save(tiny, "PNG")
    status, body = server.post(tiny.getvalue(), "image/png")
    assert (status, body["error"]) == (400, "IncompatibleImageError")


def test_only_json_is_offered(server: Server, reference_pngs) -> None:
    status, body = server.post(reference_pngs[REFERENCE], "image/png", {"Accept": "text/csv"})
    assert (status, body["error"]) == (406, "UnsupportedAcceptError")


def test_the_server_survives_bad_input_and_keeps_answering(server: Server, reference_pngs, recorded) -> None:
    for _ in range(3):
        server.post(b"junk", "image/png")
    status, body = server.post(reference_pngs[REFERENCE], "image/png")
    assert status == 200
    np.testing.assert_allclose(body, recorded[REFERENCE], atol=1e-4)
    assert server.process.poll() is None


def test_successful_requests_are_captured_with_the_callers_inference_id(server: Server, reference_pngs) -> None:
    image = reference_pngs["8_00038.png"]
    status, body = server.post(image, "image/png", {"X-Amzn-SageMaker-Inference-Id": "trace-8-00038"})
    assert status == 200
    deadline = time.monotonic() + 5
    record = None
    while record is None and time.monotonic() < deadline:
        for path in server.capture_dir.rglob("*.jsonl"):
            for line in path.read_text().splitlines():
                candidate = json.loads(line)
                if candidate["eventMetadata"].get("inferenceId") == "trace-8-00038":
                    record, where = candidate, path
        time.sleep(0.05)
    assert record is not None, "no capture record within 5 s"
    assert where.relative_to(server.capture_dir).parts[:2] == ("digits-endpoint", "AllTraffic")
    sides = record["captureData"]
    assert sides["endpointInput"]["encoding"] == "BASE64"
    assert sides["endpointOutput"]["encoding"] == "JSON"
    assert json.loads(sides["endpointOutput"]["data"]) == body


def test_both_backends_capture_loader_identical_rows(
    server: Server, tmp_path: Path, monkeypatch, context, capsys
) -> None:
    """The endpoint's capture and the in-Lambda LiteRT capture read back as the same row."""
    from sfn_inference.core.messages import encode_inline
    from sfn_inference.datacapture.compaction import LogEvent, compact
    from sfn_inference.datacapture.writer import sink_for
    from sfn_workbench.capture_reader import load_captures
    from support import load_handler

    image = (BUNDLE_DIR / "reference" / "8_00274.png").read_bytes()
    status, _ = server.post(image, "image/png")
    assert status == 200

    monkeypatch.setenv("MODEL_DIR", str(BUNDLE_DIR))
    monkeypatch.setenv("CAPTURE_DESTINATION_S3_URI", f"file://{tmp_path}")
    classify = load_handler("classify")
    event = {"s3_bucket": "b", "s3_key": "k.png", "content_type": "image/png", "image_data": encode_inline(image)}
    classify.lambda_handler(event, context)
    # In Lambda the record goes to the log; the compactor writes it as a capture file.
    lines = [LogEvent(str(i), line) for i, line in enumerate(capsys.readouterr().out.splitlines())]
    for file in compact(lines).files:
        sink_for(file.destination).write(file.path, file.body)

    labels = ModelBundle(BUNDLE_DIR).labels
    deadline = time.monotonic() + 10
    while not (
        matches := [
            r
            for r in load_captures(server.capture_dir, labels=labels, include_input=True).to_dict("records")
            if r["input_bytes"] == image
        ]
    ):
        assert time.monotonic() < deadline, "the endpoint wrote no capture of the image"
        time.sleep(0.1)
    theirs = matches[-1]
    [ours] = load_captures(tmp_path, labels=labels, include_input=True).to_dict("records")
    assert ours["input_bytes"] == theirs["input_bytes"] == image
    assert ours["input_content_type"] == theirs["input_content_type"] == "image/png"
    assert ours["label"] == theirs["label"] == "8"
    np.testing.assert_allclose(ours["probabilities"], theirs["probabilities"], atol=1e-6)
    assert (ours["endpoint"], theirs["endpoint"]) == ("litert-in-lambda", "digits-endpoint")
