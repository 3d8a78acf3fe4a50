"""SageMaker on the local cloud: moto's server in this process, the plugin installed, boto3 over HTTP."""

from __future__ import annotations

import base64
import contextlib
import json
import os
import signal
import socket
import time
from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest
from botocore.exceptions import ClientError
from moto.server import ThreadedMotoServer

from sfn_inference.core.bundle import ModelBundle
from sfn_workbench.localcloud import sagemaker
from sfn_workbench.localcloud.context import LocalCloudContext
from sfn_workbench.localcloud.deploy import model_tarball
from support import BUNDLE_DIR

MODELS = "sfn-inference-models"
CAPTURE = "sfn-inference-capture"
ROLE = "arn:aws:iam::123456789012:role/sagemaker-execution"
REFERENCE = "3_00023.png"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@pytest.fixture(scope="module")
def ctx(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalCloudContext]:
    port = free_port()
    saved = {(owner, name): vars(owner).get(name) for owner, name in sagemaker.PATCH_TARGETS}
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("MOTO_PORT", str(port))  # ThreadedMotoServer does not set it
        # The endpoint servers inherit this process's environment: flush capture files quickly.
        mp.setenv("CAPTURE_MAX_AGE_SECONDS", "0.3")
        server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
        server.start()
        local = LocalCloudContext(endpoint_url=f"http://127.0.0.1:{port}", state_dir=tmp_path_factory.mktemp("state"))
        try:
            sagemaker.install(local)
            yield local
        finally:
            sagemaker.stop_all_endpoints()
            server.stop()
            # Undo the patches, so moto behaves as shipped for any later test in this process.
            for (owner, name), original in saved.items():
                if original is None:
                    delattr(owner, name)
                else:
                    setattr(owner, name, original)


@pytest.fixture(scope="module")
def clients(ctx: LocalCloudContext) -> dict[str, Any]:
    return {name: ctx.client(name) for name in ("s3", "sagemaker", "sagemaker-runtime")}


def wait_status(sm: Any, name: str, timeout_s: float = 60) -> dict[str, Any]:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        described: dict[str, Any] = sm.describe_endpoint(EndpointName=name)
        if described["EndpointStatus"] != "Creating":
            return described
        time.sleep(0.05)
    raise AssertionError(f"{name} still Creating after {timeout_s} s")


def create_endpoint(sm: Any, name: str, model_data_url: str, capture: dict[str, Any] | None = None) -> None:
    sm.create_model(
        ModelName=name,
        ExecutionRoleArn=ROLE,
        PrimaryContainer={
            "Image": "123456789012.dkr.ecr.us-east-1.amazonaws.com/digits:latest",
            "ModelDataUrl": model_data_url,
        },
    )
    extra = {"DataCaptureConfig": capture} if capture else {}
    sm.create_endpoint_config(
        EndpointConfigName=name,
        ProductionVariants=[
            {"VariantName": "AllTraffic", "ModelName": name, "InitialInstanceCount": 1, "InstanceType": "ml.m5.large"}
        ],
        **extra,
    )
    sm.create_endpoint(EndpointName=name, EndpointConfigName=name)


@pytest.fixture(scope="module")
def endpoint(clients: dict[str, Any]) -> str:
    s3, sm = clients["s3"], clients["sagemaker"]
    s3.create_bucket(Bucket=MODELS)
    s3.create_bucket(Bucket=CAPTURE)
    s3.put_object(Bucket=MODELS, Key="digits/model.tar.gz", Body=model_tarball(BUNDLE_DIR))
    create_endpoint(
        sm,
        "digits-endpoint",
        f"s3://{MODELS}/digits/model.tar.gz",
        {
            "EnableCapture": True,
            "InitialSamplingPercentage": 100,
            "DestinationS3Uri": f"s3://{CAPTURE}/datacapture",
            "CaptureOptions": [{"CaptureMode": "Input"}, {"CaptureMode": "Output"}],
            "CaptureContentTypeHeader": {"JsonContentTypes": ["application/json"]},
        },
    )
    described = wait_status(sm, "digits-endpoint")
    assert described["EndpointStatus"] == "InService", described.get("FailureReason")
    return "digits-endpoint"


def test_invoke_endpoint_returns_the_models_probabilities(clients, endpoint, reference_pngs) -> None:
    response = clients["sagemaker-runtime"].invoke_endpoint(
        EndpointName=endpoint, ContentType="image/png", Accept="application/json", Body=reference_pngs[REFERENCE]
    )
    assert response["ContentType"] == "application/json"
    assert response["InvokedProductionVariant"] == "AllTraffic"
    probabilities = json.loads(response["Body"].read())
    np.testing.assert_allclose(probabilities, ModelBundle(BUNDLE_DIR).reference_predictions[REFERENCE], atol=1e-4)


def test_the_sagemaker_backend_works_against_it(clients, endpoint, reference_pngs) -> None:
    from sfn_inference.adapters.sagemaker_endpoint import SageMakerPredictor
    from sfn_inference.core.errors import CorruptImageError
    from support import png_image

    predictor = SageMakerPredictor(endpoint, ModelBundle(BUNDLE_DIR).labels, clients["sagemaker-runtime"])
    good, truncated = predictor.predict(
        [png_image(reference_pngs["7_00017.png"]), png_image(reference_pngs["3_00023.png"][:120])]
    )
    assert isinstance(good, list) and int(np.argmax(good)) == 7
    # The server's own error name comes through ModelError: the ASL routes it as on LiteRT.
    assert type(truncated) is CorruptImageError, truncated


def test_a_model_4xx_is_sagemakers_model_error(clients, endpoint) -> None:
    with pytest.raises(ClientError) as raised:
        clients["sagemaker-runtime"].invoke_endpoint(EndpointName=endpoint, ContentType="image/png", Body=b"junk")
    response: dict[str, Any] = dict(raised.value.response)  # ModelError adds modeled fields
    assert response["Error"]["Code"] == "ModelError"
    assert response["ResponseMetadata"]["HTTPStatusCode"] == 424
    assert response["OriginalStatusCode"] == 400
    assert "Received client error (400) from primary" in response["Error"]["Message"]
    assert "NotAnImageError" in response["Error"]["Message"]
    assert json.loads(response["OriginalMessage"])["error"] == "NotAnImageError"

    with pytest.raises(ClientError) as raised:
        clients["sagemaker-runtime"].invoke_endpoint(EndpointName=endpoint, ContentType="text/csv", Body=b"1,2")
    assert dict(raised.value.response)["OriginalStatusCode"] == 415


def test_an_unknown_endpoint_is_a_validation_error(clients, endpoint) -> None:
    with pytest.raises(ClientError) as raised:
        clients["sagemaker-runtime"].invoke_endpoint(
            EndpointName="no-such-endpoint", ContentType="image/png", Body=b"x"
        )
    error = raised.value.response
    assert error["Error"] == {
        "Code": "ValidationError",
        "Message": "Endpoint no-such-endpoint of account 123456789012 not found.",
    }
    assert error["ResponseMetadata"]["HTTPStatusCode"] == 400


def test_each_invocation_is_captured_to_s3(clients, endpoint, reference_pngs) -> None:
    s3, runtime = clients["s3"], clients["sagemaker-runtime"]
    image = reference_pngs["5_00005.png"]
    response = runtime.invoke_endpoint(EndpointName=endpoint, ContentType="image/png", Body=image, InferenceId="req-5")
    body = response["Body"].read().decode()

    deadline, record, key = time.monotonic() + 10, None, ""
    while record is None and time.monotonic() < deadline:
        listed = s3.list_objects_v2(Bucket=CAPTURE, Prefix=f"datacapture/{endpoint}/AllTraffic/")
        for obj in listed.get("Contents", []):
            for line in s3.get_object(Bucket=CAPTURE, Key=obj["Key"])["Body"].read().splitlines():
                candidate = json.loads(line)
                if candidate["eventMetadata"].get("inferenceId") == "req-5":
                    record, key = candidate, obj["Key"]
        time.sleep(0.1)
    assert record is not None, "no capture record within 10 s"
    parts = key.split("/")
    assert parts[:3] == ["datacapture", endpoint, "AllTraffic"]
    assert [len(p) for p in parts[3:7]] == [4, 2, 2, 2] and parts[7].endswith(".jsonl")
    assert record["eventVersion"] == "0"
    assert record["captureData"]["endpointInput"] == {
        "observedContentType": "image/png",
        "mode": "INPUT",
        "data": base64.b64encode(image).decode(),
        "encoding": "BASE64",
    }
    assert record["captureData"]["endpointOutput"] == {
        "observedContentType": "application/json",
        "mode": "OUTPUT",
        "data": body,
        "encoding": "JSON",
    }


def test_delete_endpoint_stops_its_server(clients, endpoint) -> None:
    sm, runtime = clients["sagemaker"], clients["sagemaker-runtime"]
    create_endpoint(sm, "short-lived", f"s3://{MODELS}/digits/model.tar.gz")
    assert wait_status(sm, "short-lived")["EndpointStatus"] == "InService"
    [running] = [e for e in sagemaker.running_endpoints() if e.name == "short-lived"]
    assert running.process is not None and running.process.poll() is None

    sm.delete_endpoint(EndpointName="short-lived")
    assert running.process.poll() is not None, "the server process is gone"
    assert not running.model_dir.exists()
    with pytest.raises(ClientError, match="ValidationError"):
        runtime.invoke_endpoint(EndpointName="short-lived", ContentType="image/png", Body=b"x")
    with pytest.raises(ClientError, match="Could not find endpoint"):
        sm.describe_endpoint(EndpointName="short-lived")


def test_missing_model_data_fails_the_endpoint_with_a_reason(clients, endpoint) -> None:
    sm = clients["sagemaker"]
    create_endpoint(sm, "no-model-data", f"s3://{MODELS}/nothing/model.tar.gz")
    described = wait_status(sm, "no-model-data")
    assert described["EndpointStatus"] == "Failed"
    assert "could not read the model data" in described["FailureReason"]
    assert not [e for e in sagemaker.running_endpoints() if e.name == "no-model-data" and e.port is not None]


def test_creating_an_existing_endpoint_is_refused(clients, endpoint) -> None:
    with pytest.raises(ClientError, match="Cannot create already existing endpoint"):
        clients["sagemaker"].create_endpoint(EndpointName=endpoint, EndpointConfigName=endpoint)


def invoke_until_it_answers(runtime: Any, endpoint: str, image: bytes, timeout_s: float = 60) -> None:
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            runtime.invoke_endpoint(EndpointName=endpoint, ContentType="image/png", Body=image)
            return
        except ClientError:
            assert time.monotonic() < deadline, f"{endpoint} did not answer again within {timeout_s} s"
            time.sleep(0.2)


def assert_no_response_error(raised: pytest.ExceptionInfo[ClientError], endpoint: str) -> None:
    response: dict[str, Any] = dict(raised.value.response)
    assert response["Error"]["Code"] == "ModelError"
    assert response["OriginalStatusCode"] == 0
    assert response["Error"]["Message"].startswith(
        f'Received server error (0) from primary with message "Amazon SageMaker could not get a response '
        f"from the {endpoint} endpoint."
    )


def test_a_killed_endpoint_server_is_replaced_and_answers_as_sagemaker_meanwhile(
    clients, endpoint, reference_pngs
) -> None:
    sm, runtime = clients["sagemaker"], clients["sagemaker-runtime"]
    [running] = [e for e in sagemaker.running_endpoints() if e.name == endpoint]
    killed, replacements = running.process, running.replacements
    assert killed is not None
    killed.kill()
    killed.wait()
    with pytest.raises(ClientError) as raised:
        runtime.invoke_endpoint(EndpointName=endpoint, ContentType="image/png", Body=reference_pngs[REFERENCE])
    assert_no_response_error(raised, endpoint)
    assert sm.describe_endpoint(EndpointName=endpoint)["EndpointStatus"] == "InService", "as while SageMaker heals"
    invoke_until_it_answers(runtime, endpoint, reference_pngs[REFERENCE])
    assert running.replacements == replacements + 1
    assert running.process is not None and running.process.pid != killed.pid


def test_a_hung_endpoint_server_fails_its_pings_and_is_replaced(clients, endpoint, reference_pngs, monkeypatch) -> None:
    monkeypatch.setattr(sagemaker, "PING_INTERVAL_S", 0.2)
    monkeypatch.setattr(sagemaker, "PING_TIMEOUT_S", 0.2)
    runtime = clients["sagemaker-runtime"]
    [running] = [e for e in sagemaker.running_endpoints() if e.name == endpoint]
    hung, replacements = running.process, running.replacements
    assert hung is not None
    os.kill(hung.pid, signal.SIGSTOP)  # alive, listening, never answering
    try:
        started = time.monotonic()
        with pytest.raises(ClientError) as raised:  # in flight when the hung server is replaced
            runtime.invoke_endpoint(EndpointName=endpoint, ContentType="image/png", Body=reference_pngs[REFERENCE])
        assert_no_response_error(raised, endpoint)
        assert time.monotonic() - started < 30, "replaced after three missed pings, not after the 60 s invoke limit"
        invoke_until_it_answers(runtime, endpoint, reference_pngs[REFERENCE])
        assert running.replacements == replacements + 1
        assert hung.poll() is not None, "the hung server was killed"
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.kill(hung.pid, signal.SIGCONT)
