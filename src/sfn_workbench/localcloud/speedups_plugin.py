"""Plugin: four caches that take half the local cloud's CPU per execution.

``make bench`` profiled the server (py-spy) at ~100 ms of CPU per pipeline
execution, all inside moto: a new boto3 client for every Lambda task (25 %), an
ANTLR parse of the definition for every execution (11-14 %), and a directory
listing of moto's modules on every HTTP request (8 %); and a JSONPath parse on every
path evaluation (issue 15's profile). Each cache keeps moto's behaviour: clients are
thread-safe and moto ignores the per-state credentials; the parse trees, the ASL's and
the JSONPaths', are immutable and every execution still gets fresh components.
"""

from __future__ import annotations

import functools
from typing import Any

from moto import backends
from moto.stepfunctions.parser.asl.component.common.path import result_path
from moto.stepfunctions.parser.asl.component.state.exec.state_map.item_reader.eval import (
    resource_eval_s3 as item_reader_s3,
)
from moto.stepfunctions.parser.asl.component.state.exec.state_map.result_writer.resource_eval import (
    resource_eval_s3 as result_writer_s3,
)
from moto.stepfunctions.parser.asl.component.state.exec.state_task import lambda_eval_utils
from moto.stepfunctions.parser.asl.parse.asl_parser import AmazonStateLanguageParser
from moto.stepfunctions.parser.asl.parse.preprocessor import Preprocessor
from moto.stepfunctions.parser.asl.utils import boto_client, json_path

from sfn_workbench.localcloud import levers, patches
from sfn_workbench.localcloud.context import LocalCloudContext

#: Modules that imported ``boto_client_for`` by name, and so hold their own reference.
CLIENT_USERS = (boto_client, lambda_eval_utils, item_reader_s3, result_writer_s3)
#: Modules that parse a JSONPath on every evaluation (every InputPath, Parameters "$.x", ResultPath).
JSONPATH_USERS = (json_path, result_path)
PATCH_TARGETS: tuple[patches.Target, ...] = (
    (backends, "list_of_moto_modules"),
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
