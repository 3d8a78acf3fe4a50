"""The SageMaker backend against the real sagemaker-runtime client, stubbed at the wire (botocore Stubber).

Stubber validates every request against the service model, so a wrong parameter
name or type fails here as it would on AWS.
"""

import io
import json
import re
import socket
import threading
import time
from typing import Any

import boto3
import pytest
from botocore.response import StreamingBody
from botocore.stub import Stubber

from sfn_inference.adapters import sagemaker_endpoint
from sfn_inference.adapters.sagemaker_endpoint import (
    BATCH_BUDGET_S,
    CONNECT_TIMEOUT_S,
    MAX_ATTEMPTS,
    MAX_BACKOFF_S,
    MAX_PAYLOAD_BYTES,
    READ_TIMEOUT_S,
    WORST_CASE_PER_IMAGE_S,
    SageMakerPredictor,
    endpoint_client,
)
from sfn_inference.core.errors import CorruptImageError, EndpointError, PayloadTooLargeError, PredictionError
from sfn_inference.core.messages import EncodedImage
from sfn_workbench.template import load_template
from support import ROOT, png_image

LABELS = [str(d) for d in range(10)]


@pytest.fixture
def client():
    return boto3.client("sagemaker-runtime", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x")


def body(payload: bytes) -> StreamingBody:
    return StreamingBody(io.BytesIO(payload), len(payload))


def test_sends_the_image_as_png_and_reads_a_json_list(client, reference_pngs) -> None:
    image = reference_pngs["7_00017.png"]
    probs = [0.01] * 9 + [0.91]
    with Stubber(client) as stub:
        stub.add_response(
            "invoke_endpoint",
            {"Body": body(json.dumps(probs).encode()), "ContentType": "application/json"},
            {
                "EndpointName": "digits-endpoint",
                "ContentType": "image/png",
                "Accept": "application/json",
                "Body": image,
            },
        )
        got = SageMakerPredictor("digits-endpoint", LABELS, client).predict([png_image(image)])
    assert got[0] == pytest.approx(probs)


def test_endpoint_errors_are_named(client, reference_pngs) -> None:
    with Stubber(client) as stub:
        stub.add_client_error(
            "invoke_endpoint", "ValidationError", "Endpoint digits-endpoint of account 123456789012 not found.", 400
        )
        [error] = SageMakerPredictor("digits-endpoint", LABELS, client).predict(
            [png_image(reference_pngs["7_00017.png"])]
        )
    assert isinstance(error, EndpointError)
    assert re.search(r"ValidationError.*not found", str(error))


def test_the_model_servers_own_error_name_is_carried_through(client, reference_pngs) -> None:
    """Both backends must give the ASL the same names: a ModelError relaying CorruptImageError is one."""
    server_body = json.dumps({"error": "CorruptImageError", "message": "cannot decode the image: truncated"})
    message = f'Received client error (400) from primary with message "{server_body}". See the log.'
    with Stubber(client) as stub:
        stub.add_client_error("invoke_endpoint", "ModelError", message, 424)
        [error] = SageMakerPredictor("e", LABELS, client).predict([png_image(reference_pngs["7_00017.png"])])
    assert type(error) is CorruptImageError
    assert "truncated" in str(error)


@pytest.mark.parametrize("payload", [b"<html>", b'{"predictions": [1]}', b"[0.5, 0.5]"])
def test_malformed_responses_are_prediction_errors(client, reference_pngs, payload: bytes) -> None:
    with Stubber(client) as stub:
        stub.add_response("invoke_endpoint", {"Body": body(payload)})
        [error] = SageMakerPredictor("e", LABELS, client).predict([png_image(reference_pngs["7_00017.png"])])
    assert isinstance(error, PredictionError)


def test_endpoint_name_comes_from_configuration() -> None:
    from sfn_inference.core.errors import ConfigError
    from sfn_inference.core.settings import ClassifyConfig

    assert ClassifyConfig.from_env({"BACKEND": "sagemaker", "ENDPOINT_NAME": "e1"}).endpoint_name == "e1"
    with pytest.raises(ConfigError, match="ENDPOINT_NAME"):
        ClassifyConfig.from_env({"BACKEND": "sagemaker"})


# --- the payload limit ------------------------------------------------------------------------------


def big_png(size: int) -> EncodedImage:
    """A valid PNG signature padded to ``size`` bytes: only its length matters before the request."""
    return EncodedImage(b"\x89PNG\r\n\x1a\n" + b"\0" * (size - 8), "image/png")


def test_an_image_over_6_mb_is_refused_before_invoking(client) -> None:
    with Stubber(client) as stub:  # nothing queued: any request would fail the stub
        [error] = SageMakerPredictor("e", LABELS, client).predict([big_png(MAX_PAYLOAD_BYTES + 1)])
        stub.assert_no_pending_responses()
    assert type(error) is PayloadTooLargeError
    assert "6 MB" in str(error) and f"{MAX_PAYLOAD_BYTES + 1:,} bytes" in str(error)


def test_an_image_of_exactly_6_mb_is_sent(client) -> None:
    image = big_png(MAX_PAYLOAD_BYTES)
    probs = [0.1] * 10
    with Stubber(client) as stub:
        stub.add_response(
            "invoke_endpoint",
            {"Body": body(json.dumps(probs).encode())},
            {"EndpointName": "e", "ContentType": "image/png", "Accept": "application/json", "Body": image.data},
        )
        [got] = SageMakerPredictor("e", LABELS, client).predict([image])
    assert got == pytest.approx(probs)


# --- a hung or dead endpoint --------------------------------------------------------------------------


def test_the_clients_worst_case_fits_well_inside_classifys_timeout(aws_env: pytest.MonkeyPatch) -> None:
    """A hung endpoint must be an EndpointError, not Sandbox.Timedout: the client gives up first."""
    classify = load_template(ROOT / "infra" / "template.yaml")["Resources"]["ClassifyFunction"]["Properties"]
    lambda_timeout = float(classify["Timeout"])
    config = endpoint_client().meta.config
    assert (config.connect_timeout, config.read_timeout) == (CONNECT_TIMEOUT_S, READ_TIMEOUT_S)
    assert config.retries == {"mode": "standard", "total_max_attempts": MAX_ATTEMPTS}
    assert lambda_timeout / 2 >= WORST_CASE_PER_IMAGE_S
    # A batch starts no image after BATCH_BUDGET_S - WORST_CASE_PER_IMAGE_S, so it ends by the budget,
    # which leaves room for the cold start, reading the images and writing captures.
    assert lambda_timeout - 10 >= BATCH_BUDGET_S


@pytest.fixture
def aws_env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "x")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "x")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    return monkeypatch


class StallingServer:
    """A loopback HTTP server that accepts every request, reads it, and never answers."""

    def __init__(self) -> None:
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.requests = 0
        self.held: list[socket.socket] = []
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.held.append(conn)
            conn.settimeout(5)
            try:
                if conn.recv(65536).startswith(b"POST "):
                    self.requests += 1
            except OSError:
                pass

    def close(self) -> None:
        self.sock.close()
        for conn in self.held:
            conn.close()


def predict_with_deadline(predictor: SageMakerPredictor, images: list[EncodedImage], deadline_s: float) -> list[Any]:
    """predict() in a thread: before the fix it waited botocore's 60 s read timeout, 5 times over."""
    out: list[Any] = []
    worker = threading.Thread(target=lambda: out.extend(predictor.predict(images)), daemon=True)
    worker.start()
    worker.join(deadline_s)
    assert not worker.is_alive(), f"predict() still waiting after {deadline_s} s"
    return out


def test_a_hung_endpoint_is_an_endpoint_error_and_the_rest_of_the_batch_is_not_sent(
    aws_env: pytest.MonkeyPatch, reference_pngs
) -> None:
    # The production client, with its timeouts scaled down so the test takes a second, not 20.
    aws_env.setattr(sagemaker_endpoint, "READ_TIMEOUT_S", 0.3)
    aws_env.setattr(sagemaker_endpoint, "CONNECT_TIMEOUT_S", 0.3)
    server = StallingServer()
    aws_env.setenv("AWS_ENDPOINT_URL", f"http://127.0.0.1:{server.port}")
    try:
        images = [png_image(reference_pngs["7_00017.png"])] * 3
        started = time.monotonic()
        first, *rest = predict_with_deadline(SageMakerPredictor("hung", LABELS), images, deadline_s=10)
        elapsed = time.monotonic() - started
    finally:
        server.close()
    assert type(first) is EndpointError
    assert re.search(r"hung: no answer after 2 attempt\(s\).*read timeout 0\.3 s", str(first)), str(first)
    assert server.requests == MAX_ATTEMPTS  # one retry, then the image's error
    assert all(type(e) is EndpointError and "not sent" in str(e) for e in rest)
    assert elapsed < MAX_ATTEMPTS * 0.3 + MAX_BACKOFF_S + 1


def test_a_dead_endpoint_is_an_endpoint_error_at_once(aws_env: pytest.MonkeyPatch, reference_pngs) -> None:
    with socket.create_server(("127.0.0.1", 0)) as sock:
        port = sock.getsockname()[1]  # closed when the block ends: nothing listens there
    aws_env.setenv("AWS_ENDPOINT_URL", f"http://127.0.0.1:{port}")
    images = [png_image(reference_pngs["7_00017.png"])] * 2
    first, second = predict_with_deadline(SageMakerPredictor("dead", LABELS), images, deadline_s=10)
    assert type(first) is EndpointError and "Could not connect" in str(first)
    assert type(second) is EndpointError and "not sent" in str(second)


def test_a_slow_batch_stops_before_it_could_outlast_classifys_timeout(client, reference_pngs) -> None:
    """Each answer takes 12 s of a fake clock: the images that would end past the budget are not sent."""
    now = [0.0]

    def clock() -> float:
        return now[0]

    def tick(**_: Any) -> None:
        now[0] += 12.0

    probs = json.dumps([0.1] * 10).encode()
    client.meta.events.register("after-call.sagemaker-runtime.InvokeEndpoint", tick)
    sent = int((BATCH_BUDGET_S - WORST_CASE_PER_IMAGE_S) // 12) + 1
    with Stubber(client) as stub:
        for _ in range(sent):
            stub.add_response("invoke_endpoint", {"Body": body(probs)})
        results = SageMakerPredictor("slow", LABELS, client, clock=clock).predict(
            [png_image(reference_pngs["7_00017.png"])] * 6
        )
        stub.assert_no_pending_responses()
    assert [isinstance(r, list) for r in results] == [True] * sent + [False] * (6 - sent)
    assert all(type(r) is EndpointError and "not sent" in str(r) for r in results[sent:]), results
