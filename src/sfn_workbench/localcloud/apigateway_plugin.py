"""Plugin: API Gateway HTTP APIs answer requests, on the local cloud's own port (no Docker).

moto 5.2.5 keeps APIs, routes, integrations and stages (its control plane, which the
deployer and ``aws apigatewayv2`` use) but serves no data plane. This plugin answers

    http://127.0.0.1:PORT/_aws/execute-api/{apiId}/{stage}/{path}     (LocalStack's convention)
    http://{apiId}.execute-api.localhost:PORT/{stage}/{path}

For ``$default`` stages the ``{stage}/`` part is left out. Each request is matched to a
route (:mod:`http_api`), turned into the payload format 2.0 event, and handed to the
integration's function through moto's ``LambdaFunction.invoke``, which the Lambda plugin
runs in the same warm worker pool as every other invocation. The answer comes back by
2.0's rules; the gateway's own errors are AWS's: 404 for no route, 413 over 10 MB (or over
Lambda's 6 MB event), 500 when the function fails or is not allowed to be invoked, 503
after the integration timeout (30 s at most).
"""

from __future__ import annotations

import fnmatch
import http
import json
import logging
import re
import threading
import time
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from moto.apigatewayv2.models import Api, Integration, apigatewayv2_backends
from moto.awslambda.models import lambda_backends
from moto.moto_server.werkzeug_app import DomainDispatcherApplication

from sfn_workbench.localcloud import patches
from sfn_workbench.localcloud.context import LocalCloudContext
from sfn_workbench.localcloud.http_api import (
    MAX_INTEGRATION_TIMEOUT_MS,
    MAX_LAMBDA_EVENT_BYTES,
    MAX_REQUEST_BYTES,
    HttpRequest,
    HttpResponse,
    MalformedResponseError,
    build_event,
    gateway_error,
    map_response,
    match_route,
)

PATCH_TARGETS: tuple[patches.Target, ...] = ((DomainDispatcherApplication, "__call__"),)
PATH_PREFIX = "/_aws/execute-api/"
DEFAULT_STAGE = "$default"
_HOST = re.compile(r"^(?P<api>[a-z0-9]+)\.execute-api\.localhost(:\d+)?$")
_FUNCTION_IN_URI = re.compile(r"/functions/(?P<arn>arn:[^/]+)/invocations$")
log = logging.getLogger(__name__)

StartResponse = Callable[..., Any]


@dataclass(frozen=True)
class Target:
    api_id: str
    path: str  # after the API id: /{stage}/{path} or, for $default, /{path}
    raw_path: str


def target_of(environ: dict[str, Any]) -> Target | None:
    """The API a request is for, by path prefix or by ``{apiId}.execute-api.localhost`` host."""
    path = environ.get("PATH_INFO", "")
    raw = str(environ.get("RAW_URI") or environ.get("REQUEST_URI") or path).split("?", 1)[0]
    if path.startswith(PATH_PREFIX):
        api_id, _, rest = path[len(PATH_PREFIX) :].partition("/")
        raw_rest = raw[len(PATH_PREFIX) :].partition("/")[2] if raw.startswith(PATH_PREFIX) else rest
        return Target(api_id, "/" + rest, "/" + raw_rest)
    host = _HOST.match(str(environ.get("HTTP_HOST", "")).lower())
    if host is not None:
        return Target(host.group("api"), path or "/", raw or "/")
    return None


def function_arn(integration_uri: str) -> str:
    """``arn:aws:apigateway:{region}:lambda:path/2015-03-31/functions/{arn}/invocations`` or the ARN itself."""
    found = _FUNCTION_IN_URI.search(integration_uri)
    return found.group("arn") if found else integration_uri


class Gateway:
    """The data plane of every HTTP API in the local cloud's moto backend."""

    def __init__(self, ctx: LocalCloudContext) -> None:
        self.ctx = ctx

    def api(self, api_id: str) -> Api | None:
        apis: dict[str, Api] = apigatewayv2_backends[self.ctx.account_id][self.ctx.region].apis
        return apis.get(api_id)

    def serve(self, target: Target, environ: dict[str, Any]) -> HttpResponse:
        started = time.monotonic()
        response = self._serve(target, environ)
        log.info(
            "%s %s -> %d (%.1f ms)",
            environ.get("REQUEST_METHOD"),
            target.raw_path,
            response.status,
            (time.monotonic() - started) * 1000,
        )
        return response

    def _serve(self, target: Target, environ: dict[str, Any]) -> HttpResponse:
        body = _read_body(environ)
        if body is None:
            return gateway_error(413)
        api = self.api(target.api_id)
        if api is None or api.protocol_type != "HTTP":
            return gateway_error(404)
        stage, path, raw_path = _stage_of(api, target)
        if stage is None:
            return gateway_error(404)
        method = str(environ.get("REQUEST_METHOD", "GET"))
        routes = {r.route_key: r for r in api.routes.values()}
        match = match_route(routes, method, path)
        if match is None:
            return gateway_error(404)
        integration = _integration(api, routes[match.route_key].target)
        if integration is None:
            log.warning("route %s of API %s has no integration", match.route_key, api.api_id)
            return gateway_error(500)
        request = HttpRequest(
            method=method,
            path=path,
            raw_path=raw_path,
            raw_query=str(environ.get("QUERY_STRING", "")),
            headers=_headers(environ),
            body=body,
            source_ip=str(environ.get("REMOTE_ADDR", "127.0.0.1")),
            protocol=str(environ.get("SERVER_PROTOCOL", "HTTP/1.1")),
        )
        request_id = uuid.uuid4().hex[:16]
        event = build_event(
            request,
            api_id=api.api_id,
            stage=stage.name,
            route=match,
            account_id=self.ctx.account_id,
            domain_name=str(environ.get("HTTP_HOST", f"{api.api_id}.execute-api.localhost")),
            request_id=request_id,
            stage_variables=stage.stage_variables,
        )
        response = self._integrate(api, stage.name, method, path, integration, event)
        return HttpResponse(response.status, [*response.headers, ("apigw-requestid", request_id)], response.body)

    def _integrate(
        self, api: Api, stage: str, method: str, path: str, integration: Integration, event: dict[str, Any]
    ) -> HttpResponse:
        function = self._function(api, stage, method, path, integration)
        if function is None:
            return gateway_error(500)
        payload = json.dumps(event).encode()
        if len(payload) > MAX_LAMBDA_EVENT_BYTES:
            return gateway_error(413)  # Lambda refuses a synchronous event over 6 MB
        timeout_s = min(integration.timeout_in_millis or MAX_INTEGRATION_TIMEOUT_MS, MAX_INTEGRATION_TIMEOUT_MS) / 1000
        outcome = _call_with_timeout(lambda: _invoke(function, payload), timeout_s)
        if outcome is None:
            return gateway_error(503)  # the invocation itself runs on to its own timeout, as in AWS
        answer, failed = outcome
        if failed:
            return gateway_error(500)
        try:
            return map_response(answer)
        except MalformedResponseError as exc:
            log.warning("API %s: %s", api.api_id, exc)
            return gateway_error(500)

    def _function(self, api: Api, stage: str, method: str, path: str, integration: Integration) -> Any:
        """The integration's function, when it is a Lambda proxy (2.0) the API may invoke; else None (a 500)."""
        if integration.integration_type != "AWS_PROXY" or integration.payload_format_version != "2.0":
            log.warning(
                "API %s: only Lambda proxy integrations with payload format 2.0 run locally, not %s %s",
                api.api_id,
                integration.integration_type,
                integration.payload_format_version,
            )
            return None
        arn = function_arn(str(integration.integration_uri))
        try:
            function = lambda_backends[self.ctx.account_id][self.ctx.region].get_function(arn)
        except Exception:
            log.warning("API %s: the integration's function %s does not exist", api.api_id, arn)
            return None
        source = f"arn:aws:execute-api:{self.ctx.region}:{self.ctx.account_id}:{api.api_id}/{stage}/{method}{path}"
        if not may_invoke(function.policy.statements, source):
            log.warning("API %s may not invoke %s: no lambda:InvokeFunction permission for %s", api.api_id, arn, source)
            return None
        return function


def may_invoke(statements: Iterable[dict[str, Any]], source_arn: str) -> bool:
    """Whether the function's resource policy lets API Gateway invoke it for this request."""
    for statement in statements:
        principal = statement.get("Principal", {})
        service = principal.get("Service") if isinstance(principal, dict) else principal
        actions = statement.get("Action", [])
        actions = [actions] if isinstance(actions, str) else actions
        if statement.get("Effect") != "Allow" or service != "apigateway.amazonaws.com":
            continue
        if not {"lambda:InvokeFunction", "lambda:*"} & set(actions):
            continue
        conditions = statement.get("Condition", {}).get("ArnLike", {})
        pattern = conditions.get("AWS:SourceArn") or conditions.get("aws:SourceArn")
        if pattern is None or fnmatch.fnmatchcase(source_arn, pattern):
            return True
    return False


def _invoke(function: Any, payload: bytes) -> tuple[bytes, bool]:
    """Through moto's invoke, which the Lambda plugin runs in the warm worker pool."""
    response_headers: dict[str, str] = {}
    try:
        answer = function.invoke(payload, {}, response_headers)
    except Exception as exc:  # a Lambda service error (throttling, injected faults): the gateway says 500
        log.warning("invoking %s failed: %s", function.function_name, exc)
        return b"", True
    return bytes(answer), "x-amz-function-error" in response_headers


def _call_with_timeout(call: Callable[[], tuple[bytes, bool]], timeout_s: float) -> tuple[bytes, bool] | None:
    box: list[tuple[bytes, bool]] = []
    thread = threading.Thread(target=lambda: box.append(call()), name="http-api-invoke", daemon=True)
    thread.start()
    thread.join(timeout_s)
    return box[0] if box else None


def _stage_of(api: Api, target: Target) -> tuple[Any, str, str]:
    """The stage named by the path's first segment, else ``$default`` with the whole path."""
    first, _, rest = target.path[1:].partition("/")
    if first in api.stages and first != DEFAULT_STAGE:
        # AWS passes rawPath with the stage in it; routes match without it.
        return api.stages[first], "/" + rest, target.raw_path
    if DEFAULT_STAGE in api.stages:
        return api.stages[DEFAULT_STAGE], target.path, target.raw_path
    return None, "", ""


def _integration(api: Api, route_target: str | None) -> Integration | None:
    if not route_target or not route_target.startswith("integrations/"):
        return None
    integration: Integration | None = api.integrations.get(route_target.split("/", 1)[1])
    return integration


def _headers(environ: dict[str, Any]) -> list[tuple[str, str]]:
    """Lower-case names; the server has comma-joined duplicates already."""
    headers = []
    for key, value in environ.items():
        if key.startswith("HTTP_"):
            headers.append((key[5:].replace("_", "-").lower(), str(value)))
        elif key in ("CONTENT_TYPE", "CONTENT_LENGTH") and value:
            headers.append((key.replace("_", "-").lower(), str(value)))
    port = str(environ.get("SERVER_PORT", ""))
    headers += [
        ("x-forwarded-for", str(environ.get("REMOTE_ADDR", "127.0.0.1"))),
        ("x-forwarded-port", port),
        ("x-forwarded-proto", "http"),
    ]
    return sorted(headers)


def _read_body(environ: dict[str, Any]) -> bytes | None:
    """The request body, or None when it is over the HTTP API's 10 MB (read to the end regardless,
    so the connection stays usable)."""
    stream = environ["wsgi.input"]
    length = environ.get("CONTENT_LENGTH")
    chunks, size = [], 0
    remaining = int(length) if length and str(length).isdigit() else None
    if remaining is None and not environ.get("wsgi.input_terminated"):
        return b""  # no Content-Length and not chunked: no body (reading would wait on the connection)
    while remaining is None or remaining > 0:
        chunk = stream.read(65536 if remaining is None else min(65536, remaining))
        if not chunk:
            break
        size += len(chunk)
        if remaining is not None:
            remaining -= len(chunk)
        if size <= MAX_REQUEST_BYTES:
            chunks.append(chunk)
    return None if size > MAX_REQUEST_BYTES else b"".join(chunks)


def _wsgi(response: HttpResponse, start_response: StartResponse) -> list[bytes]:
    try:
        status = f"{response.status} {http.HTTPStatus(response.status).phrase}"
    except ValueError:
        status = f"{response.status} Unknown"
    headers = [(k, v) for k, v in response.headers if k != "content-length"]
    start_response(status, [*headers, ("content-length", str(len(response.body)))])
    return [response.body]


def install(ctx: LocalCloudContext) -> Gateway:
    gateway = Gateway(ctx)

    def layer(below: Callable[..., Any]) -> Callable[..., Any]:
        def __call__(self: DomainDispatcherApplication, environ: dict[str, Any], start_response: StartResponse) -> Any:
            target = target_of(environ)
            if target is None:
                return below(self, environ, start_response)
            return _wsgi(gateway.serve(target, environ), start_response)

        return __call__

    patches.wrap(DomainDispatcherApplication, "__call__", layer)
    return gateway
