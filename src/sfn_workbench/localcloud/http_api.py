"""API Gateway HTTP API's rules, for the local cloud's data plane (``apigateway_plugin``).

Pure functions, no moto and no sockets: which route a request takes, the payload format
2.0 event a Lambda integration receives, and how its answer becomes the HTTP response.
Each follows AWS's documented behaviour ("Working with AWS Lambda proxy integrations for
HTTP APIs"); where the local cloud departs from it, docs/http-api.md says so.
"""

from __future__ import annotations

import base64
import binascii
import json
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qsl

DEFAULT_ROUTE = "$default"
ANY = "ANY"
#: API Gateway's own error bodies, by status.
GATEWAY_MESSAGES = {
    404: "Not Found",
    413: "Request Entity Too Large",
    429: "Too Many Requests",
    500: "Internal Server Error",
    503: "Service Unavailable",
}
#: An HTTP API's payload limit, and Lambda's limit on a synchronous invocation's event.
MAX_REQUEST_BYTES = 10 * 1024 * 1024
MAX_LAMBDA_EVENT_BYTES = 6 * 1024 * 1024
#: The integration timeout of an HTTP API: at most 30 s, which is also the default.
MAX_INTEGRATION_TIMEOUT_MS = 30_000
#: Media types API Gateway passes to Lambda as text; every other body is base64 (isBase64Encoded).
TEXT_MEDIA_TYPES = frozenset({"application/json", "application/javascript", "application/xml", "application/yaml"})


# --- routing --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class RouteMatch:
    route_key: str
    path_parameters: dict[str, str] = field(default_factory=dict)


def _segments(path: str) -> list[str]:
    return path.split("/")[1:] if path.startswith("/") else path.split("/")


def _match_template(template: str, path: str) -> dict[str, str] | None:
    """The path parameters when ``path`` fits ``template`` (``/a/{id}/{rest+}``), else None."""
    wanted, given = _segments(template), _segments(path)
    params: dict[str, str] = {}
    for i, part in enumerate(wanted):
        if part.startswith("{") and part.endswith("+}"):
            rest = given[i:]
            if not rest or rest == [""]:
                return None  # a greedy variable takes at least one segment
            params[part[1:-2]] = "/".join(rest)
            return params
        if i >= len(given):
            return None
        if part.startswith("{") and part.endswith("}"):
            if not given[i]:
                return None
            params[part[1:-1]] = given[i]
        elif part != given[i]:
            return None
    return params if len(given) == len(wanted) else None


def _specificity(route_key: str) -> tuple[int, int, int]:
    """Lower sorts first: exact paths, then ``{param}`` paths, then ``{proxy+}`` (longest first);
    at equal paths, a route for the method itself before ``ANY``."""
    method, _, template = route_key.partition(" ")
    parts = _segments(template)
    greedy = any(p.endswith("+}") for p in parts)
    params = sum(p.startswith("{") for p in parts)
    kind = 2 if greedy else (1 if params else 0)
    return kind, -len(parts) if greedy else params, int(method == ANY)


def match_route(route_keys: Iterable[str], method: str, path: str) -> RouteMatch | None:
    """The route API Gateway picks: exact, then ``{param}``, then ``{proxy+}``, then ``$default``."""
    keys = list(route_keys)
    candidates = []
    for key in keys:
        if key == DEFAULT_ROUTE or " " not in key:
            continue
        route_method, _, template = key.partition(" ")
        if route_method.upper() not in (method.upper(), ANY):
            continue
        params = _match_template(template, path)
        if params is not None:
            candidates.append((_specificity(key), key, params))
    if candidates:
        _, key, params = min(candidates, key=lambda c: c[0])
        return RouteMatch(key, params)
    return RouteMatch(DEFAULT_ROUTE) if DEFAULT_ROUTE in keys else None


# --- the event ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class HttpRequest:
    """One request as the gateway received it, its stage prefix removed from ``path``."""

    method: str
    path: str  # what routes are matched against: percent-decoded, no stage
    raw_path: str  # as sent, with the stage for a named stage (as AWS passes it)
    raw_query: str
    headers: list[tuple[str, str]]  # lower-case names, duplicates already comma-joined
    body: bytes
    source_ip: str
    protocol: str = "HTTP/1.1"

    def header(self, name: str) -> str | None:
        return next((v for k, v in self.headers if k == name), None)


def is_text(content_type: str | None, content_encoding: str | None) -> bool:
    """Whether API Gateway passes a body of this type as text (else base64, isBase64Encoded true)."""
    if content_encoding:
        return False
    media = (content_type or "").split(";", 1)[0].strip().lower()
    return media.startswith("text/") or media in TEXT_MEDIA_TYPES or media.endswith(("+json", "+xml"))


def _joined(pairs: Iterable[tuple[str, str]]) -> dict[str, str]:
    out: dict[str, str] = {}
    for key, value in pairs:
        out[key] = f"{out[key]},{value}" if key in out else value
    return out


def build_event(
    request: HttpRequest,
    *,
    api_id: str,
    stage: str,
    route: RouteMatch,
    account_id: str,
    domain_name: str,
    request_id: str,
    stage_variables: Mapping[str, str] | None = None,
    now: float | None = None,
) -> dict[str, Any]:
    """The payload format 2.0 event: lower-case headers with duplicates comma-joined, cookies
    apart, query parameters comma-joined, a binary body base64-encoded, requestContext filled in."""
    now = time.time() if now is None else now
    headers = [(k, v) for k, v in request.headers if k != "cookie"]
    cookies = [c.strip() for k, v in request.headers if k == "cookie" for c in v.split(";") if c.strip()]
    event: dict[str, Any] = {
        "version": "2.0",
        "routeKey": route.route_key,
        "rawPath": request.raw_path,
        "rawQueryString": request.raw_query,
    }
    if cookies:
        event["cookies"] = cookies
    event["headers"] = _joined(headers)
    query = parse_qsl(request.raw_query, keep_blank_values=True)
    if query:
        event["queryStringParameters"] = _joined(query)
    event["requestContext"] = {
        "accountId": account_id,
        "apiId": api_id,
        "domainName": domain_name,
        "domainPrefix": domain_name.split(".", 1)[0],
        "http": {
            "method": request.method.upper(),
            "path": request.raw_path,
            "protocol": request.protocol,
            "sourceIp": request.source_ip,
            "userAgent": request.header("user-agent") or "",
        },
        "requestId": request_id,
        "routeKey": route.route_key,
        "stage": stage,
        "time": datetime.fromtimestamp(now, UTC).strftime("%d/%b/%Y:%H:%M:%S +0000"),
        "timeEpoch": int(now * 1000),
    }
    if request.body:
        text = is_text(request.header("content-type"), request.header("content-encoding"))
        if text:
            try:
                event["body"] = request.body.decode("utf-8")
            except UnicodeDecodeError:
                text = False
        if not text:
            event["body"] = base64.b64encode(request.body).decode("ascii")
        event["isBase64Encoded"] = not text
    else:
        event["isBase64Encoded"] = False
    if route.path_parameters:
        event["pathParameters"] = route.path_parameters
    if stage_variables:
        event["stageVariables"] = dict(stage_variables)
    return event


# --- the response ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class HttpResponse:
    status: int
    headers: list[tuple[str, str]]
    body: bytes


class MalformedResponseError(Exception):
    """The function's answer is not something API Gateway can turn into a response (a 500)."""


def gateway_error(status: int) -> HttpResponse:
    """API Gateway's own answer, e.g. ``404 {"message":"Not Found"}``."""
    body = json.dumps({"message": GATEWAY_MESSAGES[status]}, separators=(",", ":")).encode()
    return HttpResponse(status, [("content-type", "application/json")], body)


def map_response(payload: bytes) -> HttpResponse:
    """Payload format 2.0's rules for a function's answer.

    A JSON object with ``statusCode`` is a response (``headers``, ``cookies``, ``body``,
    ``isBase64Encoded``). Any other valid JSON is the body of a 200 with content-type
    application/json, exactly as the function returned it. Anything else is malformed.
    """
    try:
        answer = json.loads(payload)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise MalformedResponseError(f"the function returned invalid JSON: {exc}") from None
    if not (isinstance(answer, dict) and "statusCode" in answer):
        return HttpResponse(200, [("content-type", "application/json")], payload)
    try:
        status = int(answer["statusCode"])
    except (TypeError, ValueError):
        raise MalformedResponseError(f"statusCode {answer['statusCode']!r} is not an integer") from None
    if not 100 <= status <= 599:
        raise MalformedResponseError(f"statusCode {status} is not an HTTP status")
    raw_headers = answer.get("headers")
    raw_headers = {} if raw_headers is None else raw_headers
    if not isinstance(raw_headers, dict):
        raise MalformedResponseError("headers is not an object")
    headers = [(str(k).lower(), str(v)) for k, v in raw_headers.items()]
    headers += [("set-cookie", str(c)) for c in answer.get("cookies") or []]
    body = answer.get("body")
    if body is None:
        data = b""
    elif answer.get("isBase64Encoded"):
        try:
            data = base64.b64decode(str(body), validate=True)
        except (binascii.Error, ValueError):
            raise MalformedResponseError("isBase64Encoded is true but body is not base64") from None
    else:
        data = (body if isinstance(body, str) else json.dumps(body)).encode()
    return HttpResponse(status, headers, data)
