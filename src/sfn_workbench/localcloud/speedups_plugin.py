"""Plugin: the speed levers inside moto (``levers.py`` names them; each can be turned off).

``make bench`` profiled the server (py-spy) at ~100 ms of CPU per pipeline
execution, all inside moto: a new boto3 client for every Lambda task (25 %), an
ANTLR parse of the definition for every execution (11-14 %), and a directory
listing of moto's modules on every HTTP request (8 %); and a JSONPath parse on every
path evaluation (issue 15's profile). Each cache keeps moto's behaviour: clients are
thread-safe and moto ignores the per-state credentials; the parse trees, the ASL's and
the JSONPaths', are immutable and every execution still gets fresh components.

Two more (issue 15.4/15.5): moto lists a response class's methods with ``inspect`` on
every request (``dispatch``: listed once per class; patches replace methods, never add
them); and a ``lambda:invoke`` task is a boto3 call from the server to itself: request
serialised, signed, sent over HTTP, routed by Flask, parsed by moto's Lambda responses
and back (``lambda``: the task calls moto's Lambda backend in the process instead, the
same ``invoke`` the HTTP route calls, and builds the response boto3 would have parsed;
any parameter beyond FunctionName and Payload still takes the HTTP route). And the
interpreter deep-copies a state's whole input or result on every access (``copies``: the
same copy, made by a walk over JSON's types, with ``copy.deepcopy`` for anything else).
"""

from __future__ import annotations

import copy
import functools
import io
import json
import sys
import uuid
from typing import Any

from botocore.exceptions import ClientError
from moto import backends
from moto.awslambda.models import lambda_backends
from moto.core import responses as moto_responses
from moto.core.exceptions import JsonRESTError
from moto.core.models import DEFAULT_ACCOUNT_ID
from moto.stepfunctions.parser.asl.component.common.path import result_path
from moto.stepfunctions.parser.asl.component.state.exec.state_map.item_reader.eval import (
    resource_eval_s3 as item_reader_s3,
)
from moto.stepfunctions.parser.asl.component.state.exec.state_map.result_writer.resource_eval import (
    resource_eval_s3 as result_writer_s3,
)
from moto.stepfunctions.parser.asl.component.state.exec.state_task import lambda_eval_utils
from moto.stepfunctions.parser.asl.eval.states import States
from moto.stepfunctions.parser.asl.parse.asl_parser import AmazonStateLanguageParser
from moto.stepfunctions.parser.asl.parse.preprocessor import Preprocessor
from moto.stepfunctions.parser.asl.utils import boto_client, json_path
from moto.stepfunctions.parser.asl.utils.json_path import extract_json

from sfn_workbench.localcloud import levers, patches
from sfn_workbench.localcloud.context import LocalCloudContext

#: Modules that imported ``boto_client_for`` by name, and so hold their own reference.
CLIENT_USERS = (boto_client, lambda_eval_utils, item_reader_s3, result_writer_s3)
#: Modules that parse a JSONPath on every evaluation (every InputPath, Parameters "$.x", ResultPath).
JSONPATH_USERS = (json_path, result_path)
#: Lambda's limit on a synchronous response, as moto's HTTP route applies it.
RESPONSE_LIMIT_BYTES = 6_000_000
#: What moto answers past it (its HTTP route's own wording).
TOO_LARGE = {
    "errorMessage": "Response payload size exceeded maximum allowed payload size (6291556 bytes).",
    "errorType": "Function.ResponseSizeTooLarge",
}
PATCH_TARGETS: tuple[patches.Target, ...] = (
    (backends, "list_of_moto_modules"),
    (moto_responses, "method_names_from_class"),
    (lambda_eval_utils, "_invoke_lambda_function"),
    (States, "_extract"),
    (States, "reset"),
    (States, "set_result"),
    (States, "set_error_output"),
    (AmazonStateLanguageParser, "parse"),
    *((module, "boto_client_for") for module in CLIENT_USERS),
    *((module, "parse") for module in JSONPATH_USERS),
)


def install(ctx: LocalCloudContext) -> None:
    on = levers.enabled()  # each cache is a lever: the bench measures the server without it
    if "modules" in on:
        modules = tuple(backends.list_of_moto_modules())
        patches.replace(backends, "list_of_moto_modules", lambda: iter(modules))
    if "definitions" in on:
        patches.wrap(AmazonStateLanguageParser, "parse", _cached_parse)
    if "clients" in on:
        for module in CLIENT_USERS:
            patches.wrap(module, "boto_client_for", _cached_client)
    if "jsonpath" in on:
        for module in JSONPATH_USERS:  # a parsed JSONPath is immutable: find() never changes it
            patches.wrap(module, "parse", lambda original: functools.lru_cache(maxsize=1024)(original))
    if "dispatch" in on:
        patches.wrap(
            moto_responses, "method_names_from_class", lambda original: functools.lru_cache(maxsize=256)(original)
        )
    if "lambda" in on:
        patches.wrap(lambda_eval_utils, "_invoke_lambda_function", _in_process_invoke)
    if "copies" in on:
        patches.replace(States, "_extract", staticmethod(_extract))
        patches.replace(States, "reset", _reset)
        patches.replace(States, "set_result", _set_result)
        patches.replace(States, "set_error_output", _set_error_output)


def _cached_parse(original: Any) -> Any:
    @functools.lru_cache(maxsize=64)
    def tree(definition: str) -> Any:
        return original(definition)[1]  # syntax errors raise here, and are not cached

    def parse(definition: str) -> tuple[Any, Any]:
        parsed = tree(definition)
        return Preprocessor().visit(parsed), parsed

    return staticmethod(parse)


def _cached_client(original: Any) -> Any:
    @functools.lru_cache(maxsize=32)
    def client(region: str, service: str) -> Any:
        return original(region=region, service=service)

    def boto_client_for(region: str, service: str, state_credentials: Any = None) -> Any:
        return client(region, service)

    return boto_client_for


def _in_process_invoke(original: Any) -> Any:
    def _invoke_lambda_function(parameters: dict[str, Any], region: str, state_credentials: Any) -> dict[str, Any]:
        if set(parameters) - {"FunctionName", "Payload"}:  # InvocationType, LogType, Qualifier...: moto's route
            return dict(original(parameters=parameters, region=region, state_credentials=state_credentials))
        return invoke_in_process(region, parameters["FunctionName"], parameters.get("Payload") or b"")

    return _invoke_lambda_function


def invoke_in_process(region: str, function_name: str, payload: bytes) -> dict[str, Any]:
    """What ``boto3.client("lambda").invoke(FunctionName=..., Payload=...)`` returns from moto's server,
    its payload parsed as moto's ASL parses it; moto's errors raised as the ``ClientError`` boto3 raises."""
    # The ASL's client signs with moto's default account, whatever account a function ARN names.
    backend = lambda_backends[DEFAULT_ACCOUNT_ID][region]
    headers: dict[str, str] = {}
    try:
        body = backend.invoke(function_name, None, payload, {}, headers)
    except JsonRESTError as exc:
        error = {"Code": exc.relative_error_type, "Message": exc.message}
        metadata = {"HTTPStatusCode": exc.code, "RequestId": str(uuid.uuid4())}
        raise ClientError({"Error": error, "ResponseMetadata": metadata}, "Invoke") from None  # type: ignore[typeddict-item]
    if body is None:
        body = b"{}"  # moto's route answers 404 "{}"
    data = body.encode() if isinstance(body, str) else bytes(body)
    if sys.getsizeof(data) > RESPONSE_LIMIT_BYTES:
        headers["x-amz-function-error"] = "Unhandled"
        data = json.dumps(TOO_LARGE).encode()
    response: dict[str, Any] = {"StatusCode": 200, "Payload": lambda_eval_utils._from_payload(io.BytesIO(data))}
    if "x-amz-function-error" in headers:
        response["FunctionError"] = headers["x-amz-function-error"]
    if "x-amz-executed-version" in headers:
        response["ExecutedVersion"] = headers["x-amz-executed-version"]
    return response


def json_copy(value: Any) -> Any:
    """``copy.deepcopy`` of a JSON value, without its memo: dicts and lists are rebuilt, JSON's scalars
    are immutable; any other object is deep-copied as before. (The one difference, two references
    to one sub-object becoming two copies, cannot show: state data is JSON, and serialised as JSON.)"""
    kind = type(value)
    if kind is dict:
        return {key: json_copy(item) for key, item in value.items()}
    if kind is list:
        return [json_copy(item) for item in value]
    if kind in (str, int, float, bool) or value is None:
        return value
    return copy.deepcopy(value)


# moto's States methods, each with its deepcopy made by json_copy (moto 5.2.5, asl/eval/states.py).
def _extract(query: str | None, data: Any) -> Any:
    return json_copy(data if query is None else extract_json(query, data))


def _reset(self: Any, input_value: Any) -> None:
    self._states_data["input"] = json_copy(input_value)
    self._states_data["result"] = None
    self._states_data["errorOutput"] = None


def _set_result(self: Any, result: Any) -> None:
    self._states_data["result"] = json_copy(result)


def _set_error_output(self: Any, error_output: Any) -> None:
    self._states_data["errorOutput"] = json_copy(error_output)
