"""The template's HTTP API on the local cloud, driven as the tutorials' users drive theirs: the TFLite
tutorial's curl command (image bytes), the ML Zoomcamp request (an image URL) with requests."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from PIL import Image
from PIL.PngImagePlugin import PngInfo

from cloud_helpers import function_name
from image_server import image_server
from sfn_inference.core.http import MAX_BODY_BYTES
from sfn_workbench.capture_reader import load_captures
from sfn_workbench.localcloud import control
from support import ROOT

DIGITS = ROOT / "models" / "digits" / "reference"
FASHION = ROOT / "models" / "fashion" / "reference"
FETCH_LIMITS = {"URL_READ_TIMEOUT_S": "1", "URL_TOTAL_TIMEOUT_S": "4"}


@pytest.fixture(scope="module")
def api(cloud: control.LocalCloud, stack: dict[str, Any]) -> str:
    return cloud.api_url(stack["resources"]["HttpApi"]["ref"], "Prod")


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    with image_server() as address:
        yield address


@pytest.fixture(scope="module")
def fashion_fetches_from(cloud: control.LocalCloud, stack: dict[str, Any], server: str) -> Iterator[str]:
    """The fashion function's allow-list also names the test's own server (the local cloud's S3 is on
    it already, from `up`); short read limits so a stall is seen in a second. Restored afterwards."""
    lam = cloud.client("lambda")
    name = function_name(stack, "FashionFunction")
    original = lam.get_function_configuration(FunctionName=name)["Environment"]["Variables"]
    assert original["URL_ALLOW_HOSTS"] == cloud.ctx.endpoint_url.removeprefix("http://")
    allowed = f"{original['URL_ALLOW_HOSTS']},{server}"
    lam.update_function_configuration(
        FunctionName=name, Environment={"Variables": {**original, **FETCH_LIMITS, "URL_ALLOW_HOSTS": allowed}}
    )
    try:
        yield server
    finally:
        lam.update_function_configuration(FunctionName=name, Environment={"Variables": original})


def curl(*args: str, cwd: Path | None = None) -> tuple[int, dict[str, Any]]:
    done = subprocess.run(
        ["curl", "-s", "-w", "\n%{http_code}", *args], capture_output=True, text=True, timeout=60, check=True, cwd=cwd
    )
    body, _, status = done.stdout.rpartition("\n")
    return int(status), json.loads(body)


# --- the two journeys ----------------------------------------------------------------------------------
@pytest.mark.parametrize("name", ["0_00048.png", "7_00017.png", "9_00019.png"])
def test_the_tflite_tutorials_curl_command_labels_a_reference_digit(api: str, name: str) -> None:
    expected: dict[str, list[float]] = json.loads((DIGITS / "predictions.json").read_text())
    # The tutorial's command, the image named relative to where it runs; only the URL is local.
    command = ["-X", "POST", "-H", "Content-Type: image/png", "--data-binary", f"@{name}", f"{api}/digits/predict"]
    status, answer = curl(*command, cwd=DIGITS)
    assert status == 200
    assert answer["value"] == int(name[0]) and answer["label"] == name[0]
    assert answer["score"] == pytest.approx(max(expected[name]), abs=1e-3)


@pytest.mark.parametrize("name", ["trouser_00002.png", "sneaker_00009.png", "bag_00018.png"])
def test_a_url_on_the_allow_list_classifies_a_reference_fashion_image(
    api: str, fashion_fetches_from: str, name: str
) -> None:
    response = requests.post(f"{api}/fashion/predict", json={"url": f"http://{fashion_fetches_from}/image/{name}"})
    assert response.status_code == 200, response.text
    answer = response.json()
    assert answer["label"] == name.split("_")[0]
    assert sum(answer["scores"].values()) == pytest.approx(1.0)  # probabilities, not the course's logits
    assert answer["score"] == max(answer["scores"].values())


def test_a_presigned_url_from_the_local_s3_and_an_s3_url_work(api: str, cloud: control.LocalCloud, bucket: str) -> None:
    s3 = cloud.client("s3")
    s3.put_object(Bucket=bucket, Key="test/http/coat.png", Body=(FASHION / "coat_00006.png").read_bytes())
    presigned = s3.generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": "test/http/coat.png"})
    for url in (presigned, f"s3://{bucket}/test/http/coat.png"):
        response = requests.post(f"{api}/fashion/predict", json={"url": url})
        assert (response.status_code, response.json()["label"]) == (200, "coat"), url


# --- refused URLs: 422 and a named error ------------------------------------------------------------
@pytest.mark.parametrize(
    ("url", "error"),
    [
        ("file:///etc/passwd", "UrlRefusedError"),
        ("http://10.0.0.1/trousers.png", "UrlRefusedError"),
        ("http://192.168.1.1/trousers.png", "UrlRefusedError"),
        ("http://169.254.169.254/latest/meta-data/iam/security-credentials/", "UrlRefusedError"),
        ("http://{server}/redirect?to=http://10.0.0.1/trousers.png", "UrlRefusedError"),
        ("http://{server}/redirect?to=http://169.254.169.254/latest/meta-data/", "UrlRefusedError"),
        ("http://localhost:{port}/image/trouser_00002.png", "UrlRefusedError"),  # resolves to loopback, not allowed
        ("http://{server}/big?n=5000000", "UrlTooLargeError"),
        ("http://{server}/stream?n=5000000", "UrlTooLargeError"),
        ("http://{server}/stall?s=3", "UrlTimeoutError"),
        ("http://{server}/missing.png", "UrlFetchError"),
        ("s3://{bucket}/captures/not-readable.png", "ObjectNotFoundError"),
    ],
)
def test_ssrf_and_unfetchable_urls_are_refused_with_422(
    api: str, fashion_fetches_from: str, bucket: str, url: str, error: str
) -> None:
    server = fashion_fetches_from
    url = url.format(server=server, port=server.split(":")[1], bucket=bucket)
    response = requests.post(f"{api}/fashion/predict", json={"url": url})
    assert (response.status_code, response.json()["error"]) == (422, error), response.text
    assert response.json()["message"]


# --- bad input: the status of its named error -----------------------------------------------------------
def png(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, "PNG")
    return buffer.getvalue()


@pytest.mark.parametrize(
    ("body", "content_type", "status", "error"),
    [
        (b"GIF89a", "image/png", 400, "NotAnImageError"),
        ((DIGITS / "7_00017.png").read_bytes()[:200], "image/png", 400, "CorruptImageError"),
        (png(Image.new("L", (4097, 4097))), "image/png", 400, "DecompressionBombError"),
        (png(Image.new("L", (300, 20))), "image/png", 400, "IncompatibleImageError"),
        (b"", "image/png", 400, "InvalidEventError"),
        (b"\x89PNG\r\n\x1a\n" + b"\0" * MAX_BODY_BYTES, "image/png", 413, "RequestTooLargeError"),
        ((DIGITS / "7_00017.png").read_bytes(), "application/octet-stream", 415, "UnsupportedMediaTypeError"),
        ((DIGITS / "7_00017.png").read_bytes(), "text/plain", 415, "UnsupportedMediaTypeError"),
    ],
)
def test_bad_images_get_their_status_and_the_errors_name(
    api: str, body: bytes, content_type: str, status: int, error: str
) -> None:
    response = requests.post(f"{api}/digits/predict", data=body, headers={"Content-Type": content_type})
    assert (response.status_code, response.json()["error"]) == (status, error), response.text


@pytest.mark.parametrize(
    ("data", "content_type", "status", "error"),
    [
        (b"not json", "application/json", 400, "InvalidEventError"),
        (b'{"link": "s3://b/k.png"}', "application/json", 400, "InvalidEventError"),
        (b'{"url": "s3://b/k.png"}', "application/x-www-form-urlencoded", 415, "UnsupportedMediaTypeError"),
    ],
)
def test_bad_url_requests_get_their_status(api: str, data: bytes, content_type: str, status: int, error: str) -> None:
    response = requests.post(f"{api}/fashion/predict", data=data, headers={"Content-Type": content_type})
    assert (response.status_code, response.json()["error"]) == (status, error)


def test_what_no_route_takes_is_the_gateways_404_and_what_is_too_big_its_413(api: str) -> None:
    for method, path in (("POST", "/digits/nope"), ("GET", "/digits/predict"), ("POST", "/")):
        response = requests.request(method, f"{api}{path}", data=b"x")
        assert (response.status_code, response.json()) == (404, {"message": "Not Found"}), path
    too_big = requests.post(f"{api}/digits/predict", data=b"\0" * (11 << 20), headers={"Content-Type": "image/png"})
    assert (too_big.status_code, too_big.json()) == (413, {"message": "Request Entity Too Large"})


# --- warm, captured, visible ---------------------------------------------------------------------------
def test_a_warm_second_call_does_not_reload_the_model(
    api: str, cloud: control.LocalCloud, stack: dict[str, Any]
) -> None:
    image = (DIGITS / "5_00005.png").read_bytes()

    def post() -> requests.Response:
        return requests.post(f"{api}/digits/predict", data=image, headers={"Content-Type": "image/png"})

    assert post().status_code == 200  # whatever state the pool was in, it has a warm environment now
    log = cloud.ctx.logs_dir / f"{function_name(stack, 'DigitsFunction')}.log"
    offset = log.stat().st_size
    assert post().status_code == 200 and post().status_code == 200
    with log.open("rb") as f:
        f.seek(offset)
        text = f.read().decode()
    assert text.count("REPORT RequestId") == 2
    assert "Init: cold start" not in text and "model loaded" not in text


def unique_png() -> bytes:
    info = PngInfo()
    info.add_text("id", uuid.uuid4().hex)
    buffer = io.BytesIO()
    Image.open(DIGITS / "2_00012.png").save(buffer, "PNG", pnginfo=info)
    return buffer.getvalue()


def test_http_captures_load_with_the_same_loader(
    api: str, cloud: control.LocalCloud, bucket: str, stack: dict[str, Any]
) -> None:
    image = unique_png()
    answered = requests.post(f"{api}/digits/predict", data=image, headers={"Content-Type": "image/png"})
    assert answered.status_code == 200
    url = requests.post(f"{api}/fashion/predict", json={"url": f"s3://{bucket}/test/http/coat.png"})
    labels = (ROOT / "models" / "digits" / "labels.txt").read_text().split()
    source = f"s3://{bucket}/captures/{stack['name']}-digits/"
    deadline = time.monotonic() + 20
    while True:
        frame = load_captures(source, labels=labels, include_input=True, s3_client=cloud.client("s3"))
        mine = frame[frame["input_bytes"].map(lambda b: b == image)]
        if len(mine) or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    assert len(mine) == 1, f"{len(frame)} digits captures, none of this request"
    row = mine.iloc[0]
    assert (row["label"], row["input_content_type"], row["endpoint"]) == ("2", "image/png", f"{stack['name']}-digits")
    assert row["confidence"] == pytest.approx(answered.json()["score"])
    if url.status_code == 200:  # after the presigned-URL test: the URL request is captured as JSON
        source = f"s3://{bucket}/captures/{stack['name']}-fashion/"
        fashion = load_captures(source, include_input=True, s3_client=cloud.client("s3"))
        assert (fashion["input_content_type"] == "application/json").all()


def test_the_aws_cli_sees_the_templates_api(cloud: control.LocalCloud, stack: dict[str, Any]) -> None:
    aws = os.path.join(os.path.dirname(sys.executable), "aws")
    env = {**os.environ, **cloud.ctx.aws_env()}
    api_id = stack["resources"]["HttpApi"]["ref"]

    def cli(*args: str) -> Any:
        command = [aws, "--output", "json", "apigatewayv2", *args]
        done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=60, check=True)
        return json.loads(done.stdout)

    assert api_id in {a["ApiId"] for a in cli("get-apis")["Items"]}
    routes = {r["RouteKey"] for r in cli("get-routes", "--api-id", api_id)["Items"]}
    assert {"POST /digits/predict", "POST /fashion/predict"} <= routes


def test_the_cli_predicts_and_says_where_the_api_is(cloud: control.LocalCloud, api: str, tmp_path: Path) -> None:
    cli = [os.path.join(os.path.dirname(sys.executable), "sfn-inference")]
    state = ["--state-dir", str(cloud.ctx.state_dir)]
    env = {**os.environ, "COLUMNS": "250"}
    printed = subprocess.run([*cli, "env", *state], capture_output=True, text=True, timeout=60, check=True, env=env)
    assert f"export SFN_API_URL={api}" in printed.stdout.splitlines()

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([*cli, *args, *state], check=False, capture_output=True, text=True, timeout=60, env=env)

    done = run("predict", str(DIGITS / "8_00038.png"))
    assert done.returncode == 0, done.stdout + done.stderr
    assert json.loads(done.stdout.splitlines()[-1])["label"] == "8"
    done = run("predict", str(FASHION / "dress_00013.png"), "--upload")
    assert json.loads(done.stdout.splitlines()[-1])["label"] == "dress"
    refused = run("predict", "file:///etc/passwd")
    assert refused.returncode == 1 and json.loads(refused.stdout.splitlines()[-1])["error"] == "UrlRefusedError"
