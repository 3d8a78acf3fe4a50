"""The events the series and tabular functions take, and the answers they give.

Two kinds of event reach them:

- an API Gateway proxy event (HTTP API payload 2.0, or REST API 1.0): the request is its
  method, query parameters and body, and the answer is an HTTP response whose body is
  JSON, with the status :mod:`sfn_inference.core.http` maps the named error to;
- the seed's plain event, from a direct ``lambda invoke``: the request itself
  (``{"sl": 6.9, ...}``, ``{"items": [...]}``), or ``{"body": "<JSON text>"}`` as the FordA
  seed's handler read it. The answer is the seed's ``{"statusCode": 200, "body": answer}``,
  and a bad request raises its named error, which Lambda reports as ``errorType``.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from sfn_inference.core.errors import BodyNotJsonError, InvalidEventError, SfnInferenceError
from sfn_inference.core.http import body_bytes, error_body, status_for

JSON = "application/json"


@dataclass(frozen=True)
class Request:
    #: True for an API Gateway event: the answer is an HTTP response.
    http: bool
    #: The HTTP method; "INVOKE" for a plain event.
    method: str
    query: Mapping[str, str] = field(default_factory=dict)
    #: The body's text (None when there is none), or the plain event itself in ``parsed``.
    text: str | None = None
    parsed: Any = None

    def json(self) -> Any:
        """The body as JSON; BodyNotJsonError says what is wrong with it."""
        if self.parsed is not None:
            return self.parsed
        if self.text is None or not self.text.strip():
            raise BodyNotJsonError(f"the {self.method} request has no body; send a JSON object")
        try:
            return json.loads(self.text)
        except json.JSONDecodeError as exc:
            where = f"{exc.msg} at line {exc.lineno} column {exc.colno}"
            raise BodyNotJsonError(f"the body is not JSON ({where}); send a JSON object") from None


def is_proxy_event(event: Any) -> bool:
    """An API Gateway proxy event: payload 2.0 (HTTP API) or 1.0 (REST API)."""
    return isinstance(event, dict) and "requestContext" in event and ("httpMethod" in event or "version" in event)


def parse_event(event: Any) -> Request:
    if not isinstance(event, dict):
        raise InvalidEventError(f"the event is a {type(event).__name__}, not a JSON object")
    if is_proxy_event(event):
        context = event["requestContext"] if isinstance(event["requestContext"], dict) else {}
        method = str(event.get("httpMethod") or context.get("http", {}).get("method") or "POST").upper()
        query = event.get("queryStringParameters") or {}
        return Request(True, method, {str(k): str(v) for k, v in query.items()}, _body_text(event))
    if set(event) == {"body"} or (set(event) <= {"body", "isBase64Encoded"} and "body" in event):
        body = event["body"]
        if isinstance(body, str):
            return Request(False, "INVOKE", text=_body_text(event))
        return Request(False, "INVOKE", parsed=body)
    return Request(False, "INVOKE", parsed=event)


def _body_text(event: Mapping[str, Any]) -> str | None:
    """The body as text; over core.http's limit is RequestTooLargeError (413), as for every route."""
    body = event.get("body")
    if body is None or body == "":
        return None
    if not isinstance(body, str):
        raise InvalidEventError(f"the event's body is a {type(body).__name__}, not a string")
    try:
        return body_bytes(body, bool(event.get("isBase64Encoded"))).decode("utf-8")
    except UnicodeDecodeError:
        raise BodyNotJsonError("the body is not UTF-8 JSON text") from None


def response(status: int, payload: Any) -> dict[str, Any]:
    """An API Gateway proxy response with a JSON body."""
    return {
        "statusCode": status,
        "headers": {"content-type": JSON},
        "body": json.dumps(payload, separators=(",", ":")),
    }


def serve(event: Any, answer: Callable[[Request], Any]) -> dict[str, Any]:
    """Parse the event, compute the answer, and give it in the shape the caller expects.

    A named error is the HTTP status it maps to for an API Gateway event, and is raised
    for a plain event (its ``errorType`` is the contract there, as everywhere in this project).
    """
    if not is_proxy_event(event):
        return {"statusCode": 200, "body": answer(parse_event(event))}
    try:
        return response(200, answer(parse_event(event)))
    except SfnInferenceError as exc:
        return response(status_for(exc), error_body(exc))


def header(event: Mapping[str, Any], name: str) -> str | None:
    """A request header's value; API Gateway's 2.0 payload lowercases the names, a hand-made event may not."""
    headers = event.get("headers") or {}
    value = headers.get(name)
    if value is None:
        value = next((v for k, v in headers.items() if str(k).lower() == name), None)
    return None if value is None else str(value)


def answer_http(
    event: Mapping[str, Any],
    answer: Callable[[Mapping[str, Any]], Any],
    refused: Callable[[SfnInferenceError], None] | None = None,
) -> dict[str, Any]:
    """An API Gateway event's answer as a proxy response: 200 with the answer as JSON, or a named
    error's status with its name and message (``refused`` logs and counts it first). Any other
    exception is raised: Lambda reports it, and API Gateway answers 500, never a 502."""
    try:
        return response(200, answer(event))
    except SfnInferenceError as exc:
        if refused is not None:
            refused(exc)
        return response(status_for(exc), error_body(exc))
