"""The local cloud's HTTP API data plane, on an API made here through the real control plane.

One echo function stands behind it (it answers with the event it received, raises, sleeps
or returns plain JSON on request), so each of API Gateway's rules is seen from both ends:
the HTTP client's (requests, curl) and the function's.
"""

from __future__ import annotations

import base64
import io
import json
import os
import subprocess
import sys
import time
import zipfile
from typing import Any

import pytest
import requests

from sfn_workbench.localcloud import control

ECHO = """
import json, time

def lambda_handler(event, context):
    mode = (event.get("queryStringParameters") or {}).get("mode", "echo")
    if mode == "raise":
        raise RuntimeError("the function failed")
    if mode == "sleep":
        time.sleep(3)
    if mode == "plain":
        return {"plain": True, "n": 1}
    if mode == "garbage":
        return {"statusCode": "two hundred"}
    if mode == "binary":
        return {"statusCode": 200, "headers": {"content-type": "image/png"}, "isBase64Encoded": True,
                "body": "iVBORw0KGgo="}
    return {"statusCode": 201, "headers": {"content-type": "application/json", "x-echo": "yes"},
            "cookies": ["session=1; Path=/"], "body": json.dumps(event)}
"""


def _zip(source: str) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("app.py", source)
    return buffer.getvalue()


@pytest.fixture(scope="module")
def api(cloud: control.LocalCloud) -> dict[str, Any]:
    iam, lam, apigw = cloud.client("iam"), cloud.client("lambda"), cloud.client("apigatewayv2")
    role = iam.create_role(
        RoleName="http-gateway-echo",
        AssumeRolePolicyDocument=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}
                ],
            }
        ),
    )["Role"]["Arn"]
    fn = lam.create_function(
        FunctionName="http-gateway-echo", Runtime="python3.12", Role=role, Handler="app.lambda_handler",
        Code={"ZipFile": _zip(ECHO)}, Timeout=10, MemorySize=128,
    )["FunctionArn"]  # fmt: skip
    ids = {}
    for name in ("allowed", "not-allowed"):
        api_id = apigw.create_api(Name=f"gateway-{name}", ProtocolType="HTTP")["ApiId"]
        integration = apigw.create_integration(
            ApiId=api_id, IntegrationType="AWS_PROXY", IntegrationUri=fn, PayloadFormatVersion="2.0",
            TimeoutInMillis=1500,
        )["IntegrationId"]  # fmt: skip
        for key in ("POST /echo", "ANY /items/{id}", "GET /items/special", "ANY /files/{path+}"):
            apigw.create_route(ApiId=api_id, RouteKey=key, Target=f"integrations/{integration}")
        apigw.create_stage(ApiId=api_id, StageName="Prod", AutoDeploy=True)
        ids[name] = api_id
    apigw.create_stage(ApiId=ids["allowed"], StageName="$default", AutoDeploy=True)
    lam.add_permission(
        FunctionName="http-gateway-echo", StatementId="allowed-api", Action="lambda:InvokeFunction",
        Principal="apigateway.amazonaws.com",
        SourceArn=f"arn:aws:execute-api:us-east-1:123456789012:{ids['allowed']}/*",
    )  # fmt: skip
    base = f"{cloud.ctx.endpoint_url}/_aws/execute-api"
    return {
        "url": f"{base}/{ids['allowed']}/Prod",
        "default": f"{base}/{ids['allowed']}",
        "denied": f"{base}/{ids['not-allowed']}/Prod",
        "id": ids["allowed"],
        "endpoint": cloud.ctx.endpoint_url,
    }


def test_a_binary_body_reaches_the_function_base64_with_the_2_0_event(api: dict[str, Any]) -> None:
    png = b"\x89PNG\r\n\x1a\n" + bytes(range(256))
    response = requests.post(
        f"{api['url']}/echo?a=1&a=2&b=", data=png, headers={"Content-Type": "image/png", "Cookie": "c1=x; c2=y"}
    )
    assert response.status_code == 201
    assert response.headers["x-echo"] == "yes"
    assert response.headers["set-cookie"] == "session=1; Path=/"
    assert response.headers["apigw-requestid"]
    event = response.json()
    assert event["version"] == "2.0"
    assert event["routeKey"] == "POST /echo"
    assert event["rawPath"] == "/Prod/echo"  # as AWS passes it for a named stage
    assert event["rawQueryString"] == "a=1&a=2&b="
    assert event["queryStringParameters"] == {"a": "1,2", "b": ""}
    assert event["cookies"] == ["c1=x", "c2=y"]
    assert "cookie" not in event["headers"]
    assert event["headers"]["content-type"] == "image/png"
    assert event["isBase64Encoded"] is True
    assert base64.b64decode(event["body"]) == png
    context = event["requestContext"]
    assert context["apiId"] == api["id"]
    assert context["stage"] == "Prod"
    assert context["http"]["method"] == "POST"
    assert context["http"]["path"] == "/Prod/echo"
    assert context["routeKey"] == "POST /echo"
    assert context["accountId"] == "123456789012"
    assert isinstance(context["timeEpoch"], int)


def test_the_default_stage_and_the_execute_api_host_name_reach_the_api(api: dict[str, Any]) -> None:
    event = requests.post(f"{api['default']}/echo", data=b"x").json()
    assert (event["requestContext"]["stage"], event["rawPath"]) == ("$default", "/echo")
    port = api["endpoint"].rsplit(":", 1)[1]
    by_host = requests.post(
        f"{api['endpoint']}/Prod/echo", data=b"x", headers={"Host": f"{api['id']}.execute-api.localhost:{port}"}
    )
    assert by_host.status_code == 201
    assert (by_host.json()["requestContext"]["stage"], by_host.json()["rawPath"]) == ("Prod", "/Prod/echo")


def test_text_bodies_stay_text_and_duplicate_headers_are_comma_joined(api: dict[str, Any]) -> None:
    completed = subprocess.run(
        ["curl", "-s", "-X", "POST", "-H", "Content-Type: application/json", "-H", "X-Dup: one", "-H", "X-Dup: two",
         "--data-binary", '{"url": "x"}', f"{api['url']}/echo"],
        capture_output=True, text=True, timeout=30, check=True,
    )  # fmt: skip
    event = json.loads(completed.stdout)
    assert event["isBase64Encoded"] is False
    assert event["body"] == '{"url": "x"}'
    assert event["headers"]["x-dup"] == "one,two"


@pytest.mark.parametrize(
    ("method", "path", "route", "params"),
    [
        ("GET", "/items/special", "GET /items/special", None),  # exact before {param}
        ("GET", "/items/42", "ANY /items/{id}", {"id": "42"}),
        ("DELETE", "/items/special", "ANY /items/{id}", {"id": "special"}),  # no DELETE route for the exact path
        ("GET", "/files/a/b/c.png", "ANY /files/{path+}", {"path": "a/b/c.png"}),
    ],
)
def test_routes_match_exact_then_param_then_greedy(
    api: dict[str, Any], method: str, path: str, route: str, params: dict[str, str] | None
) -> None:
    event = requests.request(method, f"{api['url']}{path}").json()
    assert event["routeKey"] == route
    assert event.get("pathParameters") == params


def test_the_gateway_answers_as_api_gateway_does(api: dict[str, Any]) -> None:
    for url in (f"{api['url']}/nowhere", f"{api['url']}/echo/extra", api["url"].replace("/Prod", "/Beta") + "/echo"):
        response = requests.post(url, data=b"x")
        assert (response.status_code, response.json()) == (404, {"message": "Not Found"}), url
    assert requests.get(f"{api['url']}/echo").status_code == 404  # the route is POST only
    raised = requests.get(f"{api['url']}/items/1?mode=raise")
    assert (raised.status_code, raised.json()) == (500, {"message": "Internal Server Error"})
    garbage = requests.get(f"{api['url']}/items/1?mode=garbage")
    assert (garbage.status_code, garbage.json()) == (500, {"message": "Internal Server Error"})
    plain = requests.get(f"{api['url']}/items/1?mode=plain")  # 2.0: plain JSON is a 200 application/json
    assert (plain.status_code, plain.headers["content-type"], plain.json()) == (
        200,
        "application/json",
        {"plain": True, "n": 1},
    )
    binary = requests.get(f"{api['url']}/items/1?mode=binary")
    assert binary.content == b"\x89PNG\r\n\x1a\n"


def test_an_api_without_permission_to_invoke_gets_500(api: dict[str, Any]) -> None:
    response = requests.post(f"{api['denied']}/echo", data=b"x")
    assert (response.status_code, response.json()) == (500, {"message": "Internal Server Error"})


def test_the_integration_timeout_gives_503(api: dict[str, Any]) -> None:
    started = time.monotonic()
    response = requests.get(f"{api['url']}/items/1?mode=sleep")
    elapsed = time.monotonic() - started
    assert (response.status_code, response.json()) == (503, {"message": "Service Unavailable"})
    assert 1.4 < elapsed < 2.9  # the API's 1.5 s, not the function's 3 s


def test_payload_limits_give_413(api: dict[str, Any]) -> None:
    over_api = requests.post(f"{api['url']}/echo", data=b"x" * (10 * 1024 * 1024 + 1))
    assert (over_api.status_code, over_api.json()) == (413, {"message": "Request Entity Too Large"})
    over_lambda = requests.post(f"{api['url']}/echo", data=b"x" * (5 * 1024 * 1024))  # 6.7 MB once base64
    assert (over_lambda.status_code, over_lambda.json()) == (413, {"message": "Request Entity Too Large"})
    assert requests.post(f"{api['url']}/echo", data=b"ok").status_code == 201  # the connection is still good


def test_the_control_plane_shows_the_api_to_the_aws_cli(cloud: control.LocalCloud, api: dict[str, Any]) -> None:
    aws = os.path.join(os.path.dirname(sys.executable), "aws")
    env = {**os.environ, **cloud.ctx.aws_env()}

    def cli(*args: str) -> Any:
        done = subprocess.run(
            [aws, "--output", "json", "apigatewayv2", *args], env=env, capture_output=True, text=True, timeout=60,
            check=True,
        )  # fmt: skip
        return json.loads(done.stdout)

    assert api["id"] in {a["ApiId"] for a in cli("get-apis")["Items"]}
    routes = {r["RouteKey"] for r in cli("get-routes", "--api-id", api["id"])["Items"]}
    assert routes == {"POST /echo", "ANY /items/{id}", "GET /items/special", "ANY /files/{path+}"}
    assert {s["StageName"] for s in cli("get-stages", "--api-id", api["id"])["Items"]} == {"Prod", "$default"}
