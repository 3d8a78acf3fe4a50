"""Once an invocation has returned, its capture records are never lost: not when no traffic follows,
not on a configuration update, not on `down`. (In-Lambda capture goes through the log stream.)"""

from __future__ import annotations

import base64
import io
import json
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from PIL import Image
from PIL.PngImagePlugin import PngInfo

from cloud_helpers import function_name
from sfn_workbench.capture_reader import load_captures
from sfn_workbench.localcloud import control
from sfn_workbench.localcloud.lambda_runtime import SHUTDOWN_GRACE_S
from support import BUNDLE_DIR

REFERENCE = BUNDLE_DIR / "reference"
#: The publisher puts log lines once a second; the compactor then writes at once.
BOUND_S = 10.0


@pytest.fixture(scope="module")
def own_cloud(tmp_path_factory: pytest.TempPathFactory) -> Iterator[control.LocalCloud]:
    """A cloud of this module's own: one test stops it."""
    local = control.start(tmp_path_factory.mktemp("capture-cloud"), max_workers=2)
    try:
        local.deploy("litert")
        yield local
    finally:
        local.stop()


def unique_pngs(n: int) -> list[bytes]:
    """The same digit n times, each PNG with its own text chunk: bytes that identify the inference."""
    image = Image.open(REFERENCE / "7_00017.png")
    out = []
    for _ in range(n):
        info = PngInfo()
        info.add_text("id", uuid.uuid4().hex)
        buffer = io.BytesIO()
        image.save(buffer, "PNG", pnginfo=info)
        out.append(buffer.getvalue())
    return out


def invoke_all(cloud: control.LocalCloud, function: str, images: list[bytes]) -> None:
    lam = cloud.client("lambda")
    for data in images:
        event = {
            "s3_bucket": "b",
            "s3_key": "k.png",
            "content_type": "image/png",
            "image_data": base64.b64encode(data).decode(),
        }
        response = lam.invoke(FunctionName=function, Payload=json.dumps(event))
        assert "FunctionError" not in response, response["Payload"].read()


def captured_inputs(source: str, s3: Any = None) -> set[bytes]:
    frame = load_captures(source, include_input=True, s3_client=s3)
    return set(frame["input_bytes"]) if len(frame) else set()


def wait_for(source: str, images: list[bytes], s3: Any, timeout_s: float = BOUND_S) -> float:
    start = time.monotonic()
    while time.monotonic() - start < timeout_s:
        if set(images) <= captured_inputs(source, s3):
            return time.monotonic() - start
        time.sleep(0.2)
    missing = len(set(images) - captured_inputs(source, s3))
    raise AssertionError(f"{missing} of {len(images)} records are not in {source} after {timeout_s} s")


def test_records_reach_s3_within_the_bound_with_no_further_traffic(own_cloud) -> None:
    stack = own_cloud.stack(control.STACKS["litert"])
    images = unique_pngs(30)
    invoke_all(own_cloud, function_name(stack, "ClassifyFunction"), images)
    source = f"s3://{stack['outputs']['BucketName']}/captures/"
    assert wait_for(source, images, own_cloud.client("s3")) < BOUND_S


def test_a_configuration_update_loses_no_record(own_cloud, tmp_path: Path) -> None:
    stack = own_cloud.stack(control.STACKS["litert"])
    classify = function_name(stack, "ClassifyFunction")
    lam = own_cloud.client("lambda")
    images = unique_pngs(19)
    invoke_all(own_cloud, classify, images)
    env = lam.get_function_configuration(FunctionName=classify)["Environment"]["Variables"]
    lam.update_function_configuration(
        FunctionName=classify, Environment={"Variables": {**env, "POWERTOOLS_LOG_LEVEL": "WARNING"}}
    )
    invoke_all(own_cloud, classify, images[:1])  # the new configuration's first call replaces the environments
    wait_for(f"s3://{stack['outputs']['BucketName']}/captures/", images, own_cloud.client("s3"))


def test_down_right_after_the_last_inference_loses_no_record(own_cloud, tmp_path: Path) -> None:
    """Capture to a local directory (file://), so the records outlive the cloud; stop it at once."""
    stack = own_cloud.stack(control.STACKS["litert"])
    classify = function_name(stack, "ClassifyFunction")
    lam = own_cloud.client("lambda")
    env = lam.get_function_configuration(FunctionName=classify)["Environment"]["Variables"]
    lam.update_function_configuration(
        FunctionName=classify, Environment={"Variables": {**env, "CAPTURE_DESTINATION_S3_URI": tmp_path.as_uri()}}
    )
    images = unique_pngs(30)
    invoke_all(own_cloud, classify, images)
    started = time.monotonic()
    own_cloud.stop()
    took = time.monotonic() - started
    assert set(images) <= captured_inputs(str(tmp_path)), "every record of a returned invocation was written"
    # The compactor (the log subscription's function) stops last, on its SIGTERM: no environment waited
    # out its grace period (it used to: the group's SIGTERM killed the compactor, and its replacement,
    # started while the server stopped, inherited SIG_IGN).
    assert took < SHUTDOWN_GRACE_S, f"down took {took:.2f} s"
