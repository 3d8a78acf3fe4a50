"""The one place that turns botocore's errors into the project's named errors."""

from __future__ import annotations

import json
import re
from typing import Any

from sfn_inference.core import errors
from sfn_inference.core.errors import EndpointError, ObjectNotFoundError, SfnInferenceError

#: S3's answers for a missing key or bucket (HEAD gives a bare 404 with no body).
NOT_FOUND_CODES = frozenset({"NoSuchKey", "NoSuchBucket", "404", "NotFound"})
_SERVER_ERROR_NAME = re.compile(r'"error"\s*:\s*"([A-Za-z]+Error)"')


def error_code(exc: BaseException) -> str | None:
    """The AWS error code of a botocore ``ClientError``, or None for anything else."""
    response = getattr(exc, "response", None)
    if not isinstance(response, dict):
        return None
    return str(response.get("Error", {}).get("Code", "")) or None


def s3_error(exc: BaseException, bucket: str, key: str) -> SfnInferenceError | None:
    """ObjectNotFoundError for S3's 404s; None when the error is not ours to name."""
    code = error_code(exc)
    if code in NOT_FOUND_CODES:
        return ObjectNotFoundError(f"s3://{bucket}/{key} does not exist ({code})")
    return None


def is_unreachable(exc: BaseException) -> bool:
    """No answer came back at all: no connection, a timeout, or the connection dropped."""
    from botocore import exceptions  # noqa: PLC0415 - only on an error path; botocore is heavy

    return isinstance(exc, exceptions.ConnectionError | exceptions.ReadTimeoutError | exceptions.ConnectionClosedError)


def endpoint_error(exc: BaseException, endpoint: str) -> SfnInferenceError:
    """The model server's own error name when SageMaker relays one (``ModelError``), so the
    state machine's Catch routes the same names on both backends; else an EndpointError."""
    code = error_code(exc)
    if code is None:
        return EndpointError(f"{endpoint}: {exc}")
    response: dict[str, Any] = getattr(exc, "response", {})
    message = str(response.get("Error", {}).get("Message", ""))
    original = str(response.get("OriginalMessage", "")) or message
    if code == "ModelError":
        named = _named_server_error(original)
        if named is not None:
            return named
    return EndpointError(f"{endpoint}: {code}: {message}")


def _named_server_error(message: str) -> SfnInferenceError | None:
    try:
        body = json.loads(message)
        name, text = str(body["error"]), str(body.get("message", ""))
    except (ValueError, KeyError, TypeError):
        found = _SERVER_ERROR_NAME.search(message)
        if found is None:
            return None
        name, text = found.group(1), message
    cls = getattr(errors, name, None)
    if isinstance(cls, type) and issubclass(cls, SfnInferenceError) and cls is not errors.LowConfidenceError:
        return cls(text)
    return None
