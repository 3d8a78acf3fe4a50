"""The SageMaker backend against the real sagemaker-runtime client, stubbed at the wire (botocore Stubber).

Stubber validates every request against the service model, so a wrong parameter
name or type fails here as it would on AWS.
"""

import io
import json
import re

import boto3
import pytest
from botocore.response import StreamingBody
from botocore.stub import Stubber

from sfn_inference.adapters.sagemaker_endpoint import SageMakerPredictor
from sfn_inference.core.errors import CorruptImageError, EndpointError, PredictionError
from support import png_image

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
