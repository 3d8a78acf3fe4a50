"""core.gateway's answer to an HTTP API event: the route's answer as 200 JSON, a named error as its
status with its name and message (never a 502), anything else raised for Lambda to report."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import pytest

from sfn_inference.core.errors import NotAnImageError, SfnInferenceError, UnsupportedMediaTypeError
from sfn_inference.core.gateway import answer_http, header

EVENT = {"version": "2.0", "headers": {"content-type": "image/png"}, "requestContext": {"http": {"method": "POST"}}}


def test_a_header_is_found_whatever_its_case() -> None:
    assert header(EVENT, "content-type") == "image/png"
    assert header({"headers": {"Content-Type": "image/jpeg"}}, "content-type") == "image/jpeg"
    assert header({"headers": None}, "content-type") is None
    assert header({}, "content-type") is None


def test_the_answer_is_a_200_with_a_json_body() -> None:
    response = answer_http(EVENT, lambda event: {"label": "7", "type": header(event, "content-type")})
    assert response["statusCode"] == 200
    assert response["headers"] == {"content-type": "application/json"}
    assert json.loads(response["body"]) == {"label": "7", "type": "image/png"}


@pytest.mark.parametrize(("error", "status"), [(NotAnImageError("GIF"), 400), (UnsupportedMediaTypeError("no"), 415)])
def test_a_named_error_is_its_status_and_is_reported_once(error: SfnInferenceError, status: int) -> None:
    refused: list[SfnInferenceError] = []

    def fails(event: Mapping[str, Any]) -> Any:
        raise error

    response = answer_http(EVENT, fails, refused.append)
    assert (response["statusCode"], json.loads(response["body"])) == (
        status,
        {"error": type(error).__name__, "message": str(error)},
    )
    assert refused == [error]


def test_anything_else_is_raised() -> None:
    def breaks(event: Mapping[str, Any]) -> Any:
        raise RuntimeError("bug")

    with pytest.raises(RuntimeError):
        answer_http(EVENT, breaks)
