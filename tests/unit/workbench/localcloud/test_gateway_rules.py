"""API Gateway HTTP API's rules as the local data plane applies them: routes, the 2.0 event, responses."""

from __future__ import annotations

import base64
import json

import pytest

from sfn_workbench.intrinsics import TemplateError
from sfn_workbench.localcloud.apigateway_plugin import function_arn, may_invoke, target_of
from sfn_workbench.localcloud.deploy import openapi_routes
from sfn_workbench.localcloud.http_api import (
    HttpRequest,
    MalformedResponseError,
    RouteMatch,
    build_event,
    gateway_error,
    is_text,
    map_response,
    match_route,
)

ROUTES = ["POST /digits/predict", "ANY /items/{id}", "GET /items/special", "ANY /files/{path+}", "ANY /{proxy+}"]


@pytest.mark.parametrize(
    ("method", "path", "expected"),
    [
        ("POST", "/digits/predict", RouteMatch("POST /digits/predict")),
        ("GET", "/items/special", RouteMatch("GET /items/special")),
        ("PUT", "/items/special", RouteMatch("ANY /items/{id}", {"id": "special"})),
        ("GET", "/files/a/b.png", RouteMatch("ANY /files/{path+}", {"path": "a/b.png"})),
        ("GET", "/digits/predict", RouteMatch("ANY /{proxy+}", {"proxy": "digits/predict"})),
        ("GET", "/files", RouteMatch("ANY /{proxy+}", {"proxy": "files"})),  # a greedy variable needs a segment
    ],
)
def test_routes_match_most_specific_first(method: str, path: str, expected: RouteMatch) -> None:
    assert match_route(ROUTES, method, path) == expected


def test_default_route_and_no_route() -> None:
    assert match_route(["POST /a", "$default"], "GET", "/b") == RouteMatch("$default")
    assert match_route(["POST /a"], "GET", "/a") is None
    assert match_route(["POST /a"], "POST", "/a/") is None
    assert match_route(["GET /"], "GET", "/") == RouteMatch("GET /")


def request(body: bytes = b"", **headers: str) -> HttpRequest:
    pairs = sorted((k.replace("_", "-"), v) for k, v in headers.items())
    return HttpRequest("POST", "/digits/predict", "/Prod/digits/predict", "a=1&a=2", pairs, body, "127.0.0.1")


def event_for(req: HttpRequest) -> dict[str, object]:
    return build_event(
        req,
        api_id="abc123",
        stage="Prod",
        route=RouteMatch("POST /digits/predict"),
        account_id="123456789012",
        domain_name="127.0.0.1:4566",
        request_id="rid",
        now=1_700_000_000.123,
    )


def test_the_event_has_aws_shape_with_binary_bodies_base64() -> None:
    png = b"\x89PNG\r\n\x1a\n\x00\xff"
    event = event_for(request(png, content_type="image/png", cookie="a=1; b=2", user_agent="curl/8"))
    assert event["isBase64Encoded"] is True
    assert base64.b64decode(str(event["body"])) == png
    assert event["cookies"] == ["a=1", "b=2"]
    assert event["headers"] == {"content-type": "image/png", "user-agent": "curl/8"}
    assert event["queryStringParameters"] == {"a": "1,2"}
    assert event["routeKey"] == "POST /digits/predict"
    assert event["rawPath"] == "/Prod/digits/predict"
    context = event["requestContext"]
    assert isinstance(context, dict)
    assert context["http"] == {
        "method": "POST",
        "path": "/Prod/digits/predict",
        "protocol": "HTTP/1.1",
        "sourceIp": "127.0.0.1",
        "userAgent": "curl/8",
    }
    assert context["time"] == "14/Nov/2023:22:13:20 +0000"
    assert context["timeEpoch"] == 1_700_000_000_123
    assert "pathParameters" not in event and "stageVariables" not in event


def test_text_types_stay_text_unless_encoded_or_not_utf8() -> None:
    assert event_for(request(b'{"url": "x"}', content_type="application/json"))["body"] == '{"url": "x"}'
    assert event_for(request(b"\xff", content_type="text/plain"))["isBase64Encoded"] is True
    assert event_for(request(b"")).get("body") is None
    assert is_text("application/problem+json", None)
    assert is_text("text/csv; charset=utf-8", None)
    assert not is_text("application/json", "gzip")
    assert not is_text("application/x-www-form-urlencoded", None)  # HTTP APIs base64 form posts
    assert not is_text(None, None)


def test_responses_follow_the_2_0_rules() -> None:
    plain = map_response(b'{"label": "7"}')
    assert (plain.status, plain.headers, plain.body) == (200, [("content-type", "application/json")], b'{"label": "7"}')
    shaped = map_response(
        json.dumps(
            {"statusCode": 415, "headers": {"Content-Type": "application/json"}, "cookies": ["c=1"], "body": "{}"}
        ).encode()
    )
    assert (shaped.status, shaped.body) == (415, b"{}")
    assert ("content-type", "application/json") in shaped.headers and ("set-cookie", "c=1") in shaped.headers
    binary = map_response(b'{"statusCode": 200, "isBase64Encoded": true, "body": "AAE="}')
    assert binary.body == b"\x00\x01"
    assert map_response(b'"PONG"').body == b'"PONG"'
    for bad in (b"not json", b'{"statusCode": "x"}', b'{"statusCode": 99}', b'{"statusCode": 200, "headers": []}'):
        with pytest.raises(MalformedResponseError):
            map_response(bad)
    assert gateway_error(404).body == b'{"message":"Not Found"}'


def test_requests_are_told_apart_by_prefix_or_host() -> None:
    by_path = target_of({"PATH_INFO": "/_aws/execute-api/abc123/Prod/digits/predict", "HTTP_HOST": "127.0.0.1:1"})
    assert by_path is not None and (by_path.api_id, by_path.path) == ("abc123", "/Prod/digits/predict")
    by_host = target_of({"PATH_INFO": "/Prod/x", "HTTP_HOST": "abc123.execute-api.localhost:4566"})
    assert by_host is not None and (by_host.api_id, by_host.path) == ("abc123", "/Prod/x")
    assert target_of({"PATH_INFO": "/sfn-inference-bucket/key", "HTTP_HOST": "127.0.0.1:1"}) is None


def test_function_arns_and_invoke_permissions() -> None:
    arn = "arn:aws:lambda:us-east-1:123456789012:function:f"
    assert function_arn(f"arn:aws:apigateway:us-east-1:lambda:path/2015-03-31/functions/{arn}/invocations") == arn
    assert function_arn(arn) == arn
    source = "arn:aws:execute-api:us-east-1:123456789012:abc/Prod/POST/digits/predict"
    statement = {
        "Effect": "Allow",
        "Principal": {"Service": "apigateway.amazonaws.com"},
        "Action": "lambda:InvokeFunction",
        "Condition": {
            "ArnLike": {"AWS:SourceArn": "arn:aws:execute-api:us-east-1:123456789012:abc/*/POST/digits/predict"}
        },
    }
    assert may_invoke([statement], source)
    assert not may_invoke([statement], source.replace("abc/", "other/"))
    assert not may_invoke([{**statement, "Principal": {"Service": "logs.amazonaws.com"}}], source)
    assert not may_invoke([], source)


def test_openapi_bodies_become_route_keys() -> None:
    integration = {"type": "aws_proxy", "uri": "arn", "payloadFormatVersion": "2.0"}
    body = {
        "paths": {
            "/digits/predict": {"post": {"x-amazon-apigateway-integration": integration, "responses": {}}},
            "/{proxy+}": {"x-amazon-apigateway-any-method": {"x-amazon-apigateway-integration": integration}},
            "$default": {"x-amazon-apigateway-any-method": {"x-amazon-apigateway-integration": integration}},
        }
    }
    assert [key for key, _ in openapi_routes("Api", body)] == ["POST /digits/predict", "ANY /{proxy+}", "$default"]
    with pytest.raises(TemplateError, match="authorizer"):
        openapi_routes("Api", {"paths": {"/a": {"get": {"security": [{"jwt": []}]}}}})
    with pytest.raises(TemplateError, match="no x-amazon-apigateway-integration"):
        openapi_routes("Api", {"paths": {"/a": {"get": {}}}})
