"""The ``lambda`` speed lever answers a lambda:invoke task exactly as boto3 over moto's HTTP route does."""

from __future__ import annotations

import io
import json
import zipfile
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from moto import mock_aws
from moto.awslambda.models import LambdaFunction
from moto.stepfunctions.parser.asl.component.state.exec.state_task import lambda_eval_utils

from sfn_workbench.localcloud.speedups_plugin import invoke_in_process

REGION = "us-east-1"
TRUST = {"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}
ROLE_POLICY = {"Version": "2012-10-17", "Statement": [TRUST]}


def zipped() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("app.py", "def lambda_handler(event, context):\n    return event\n")
    return buffer.getvalue()


@pytest.fixture
def function(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A function whose invoke answers as the local cloud's workers do: the payload, and the error header."""

    def invoke(self: Any, body: Any, request_headers: Any, response_headers: Any) -> bytes:
        event = json.loads(body or b"{}")
        if event.get("fail"):
            response_headers["x-amz-function-error"] = "Unhandled"
            return json.dumps({"errorType": "InvalidEventError", "errorMessage": "bad"}).encode()
        response_headers["x-amz-executed-version"] = "$LATEST"
        return json.dumps({"echo": event}).encode()

    monkeypatch.setattr(LambdaFunction, "invoke", invoke)
    with mock_aws():
        role = boto3.client("iam", region_name=REGION).create_role(
            RoleName="r", AssumeRolePolicyDocument=json.dumps(ROLE_POLICY)
        )["Role"]["Arn"]
        boto3.client("lambda", region_name=REGION).create_function(
            FunctionName="echo", Runtime="python3.12", Role=role, Handler="app.lambda_handler",
            Code={"ZipFile": zipped()},
        )  # fmt: skip
        yield "echo"


def through_boto3(name: str, payload: bytes) -> dict[str, Any]:
    """moto's ASL's own route: boto3's invoke, the payload parsed as the ASL parses it."""
    lam = boto3.client("lambda", region_name=REGION)
    response: dict[str, Any] = dict(lam.invoke(FunctionName=name, Payload=payload))
    response["Payload"] = lambda_eval_utils._from_payload(response["Payload"])
    response.pop("ResponseMetadata")
    return response


@pytest.mark.parametrize("event", [{"x": [1, "two"]}, {"fail": True}], ids=["answer", "function error"])
def test_the_response_is_the_one_boto3_parses(function: str, event: dict[str, Any]) -> None:
    payload = json.dumps(event).encode()
    assert invoke_in_process(REGION, function, payload) == through_boto3(function, payload)


def test_a_function_arn_resolves_as_a_name_does(function: str) -> None:
    arn = f"arn:aws:lambda:{REGION}:123456789012:function:{function}"
    assert invoke_in_process(REGION, arn, b"{}") == through_boto3(function, b"{}")


def test_a_missing_function_is_the_same_client_error(function: str) -> None:
    with pytest.raises(ClientError) as direct:
        invoke_in_process(REGION, "missing", b"{}")
    with pytest.raises(ClientError) as routed:
        through_boto3("missing", b"{}")
    for error in (direct.value, routed.value):
        assert error.response["ResponseMetadata"]["RequestId"]
    assert direct.value.response["Error"] == {
        k: v for k, v in routed.value.response["Error"].items() if k in ("Code", "Message")
    }
    assert (
        direct.value.response["ResponseMetadata"]["HTTPStatusCode"]
        == routed.value.response["ResponseMetadata"]["HTTPStatusCode"]
    )
