"""Plugin: the parts of a Distributed Map that moto 5.2.5 does not implement.

* ``ItemBatcher``: moto's grammar rejects it. The parser is handed the definition
  without it, and after the ItemReader lists the items they are grouped as Step
  Functions groups them: ``{"Items": [...], "BatchInput": {...}}`` per child.
* Child failures: moto drops a failed child's error; here each child's status,
  error and cause are kept, and ``ToleratedFailurePercentage(Path)`` is enforced
  with ``States.ExceedToleratedFailureThreshold``, as on AWS.
* ``ResultWriter``: moto writes an empty manifest; here SUCCEEDED_n.json and
  FAILED_n.json are written with AWS's fields, and the manifest lists them.
* ``ItemReader`` over ``s3:listObjectsV2``: moto lists one page (1,000 keys) and
  drops the rest; here every page is read, following ``ContinuationToken`` as
  Step Functions does, so every key under the prefix becomes an item. With the ``lists``
  speed lever (``levers.py``) the pages are read from moto's S3 backend in the process, as
  the objects boto3 would have parsed from them, instead of the server calling itself over
  HTTP; any parameter beyond Bucket and Prefix, or a missing bucket, takes the HTTP route.

The definition stored and described stays the one the user wrote.
"""

from __future__ import annotations

import copy
import json
import uuid
import weakref
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

from moto.core.models import DEFAULT_ACCOUNT_ID
from moto.s3.exceptions import MissingBucket
from moto.s3.models import FakeKey, s3_backends
from moto.stepfunctions.parser.asl.component.common.error_name.failure_event import (
    FailureEvent,
    FailureEventException,
)
from moto.stepfunctions.parser.asl.component.common.error_name.states_error_name import StatesErrorName
from moto.stepfunctions.parser.asl.component.common.error_name.states_error_name_type import StatesErrorNameType
from moto.stepfunctions.parser.asl.component.component import Component
from moto.stepfunctions.parser.asl.component.state.exec.state_map.item_reader.eval.resource_eval_s3 import (
    ResourceEvalS3,
)
from moto.stepfunctions.parser.asl.component.state.exec.state_map.item_reader.item_reader_decl import ItemReader
from moto.stepfunctions.parser.asl.component.state.exec.state_map.iteration.distributed_iteration_component import (
    DistributedIterationComponent,
)
from moto.stepfunctions.parser.asl.component.state.exec.state_map.iteration.itemprocessor.distributed_item_processor_worker import (  # noqa: E501
    DistributedItemProcessorWorker,
)
from moto.stepfunctions.parser.asl.component.state.exec.state_map.result_writer.result_writer_decl import ResultWriter
from moto.stepfunctions.parser.asl.component.state.exec.state_map.state_map import StateMap
from moto.stepfunctions.parser.asl.eval.program_state import ProgramError
from moto.stepfunctions.parser.asl.parse.asl_parser import AmazonStateLanguageParser
from moto.stepfunctions.parser.asl.utils import boto_client

from sfn_workbench.localcloud import levers, patches
from sfn_workbench.localcloud.context import LocalCloudContext

BATCHER_FIELDS = {"MaxItemsPerBatch", "MaxItemsPerBatchPath", "BatchInput", "Comment"}
#: Step Functions' default batch size when only BatchInput is given.
DEFAULT_MAX_ITEMS = 100
CHILD_RESULT = "__sfn_inference_child_result"
PATCH_TARGETS: tuple[patches.Target, ...] = (
    (AmazonStateLanguageParser, "parse"),
    (ItemReader, "_eval_body"),
    (DistributedItemProcessorWorker, "_eval_job"),
    (DistributedIterationComponent, "_map_run"),
    (ResultWriter, "_eval_body"),
    (ResourceEvalS3, "_handle_list_objects_v2"),
)
#: Each parsed Map component's raw JSON, for the fields moto does not parse (kept beside
#: moto's objects, never set on them).
_RAW_MAPS: weakref.WeakKeyDictionary[Any, dict[str, Any]] = weakref.WeakKeyDictionary()


class DistributedMapError(ValueError):
    """A Distributed Map field the local cloud does not implement."""


def strip_batchers(definition: str) -> tuple[str, dict[str, dict[str, Any]]]:
    """The definition without ItemBatcher blocks, and every Map state's raw JSON by name."""
    document = json.loads(definition)
    maps: dict[str, dict[str, Any]] = {}
    stripped = False

    def walk(states: dict[str, Any]) -> None:
        nonlocal stripped
        for name, state in states.items():
            if state.get("Type") == "Map":
                maps[name] = copy.deepcopy(state)
                if "ItemBatcher" in state:
                    unknown = set(state.pop("ItemBatcher")) - BATCHER_FIELDS
                    if unknown:
                        raise DistributedMapError(f"{name}: ItemBatcher {sorted(unknown)} is not supported locally")
                    stripped = True
            for key in ("ItemProcessor", "Iterator"):
                if key in state:
                    walk(state[key]["States"])
            for branch in state.get("Branches", []):
                walk(branch["States"])

    walk(document.get("States", {}))
    return (json.dumps(document) if stripped else definition), maps


def _components(root: Any) -> Iterator[Any]:
    seen: set[int] = set()
    stack = [root]
    while stack:
        node = stack.pop()
        if id(node) in seen:
            continue
        seen.add(id(node))
        if isinstance(node, Component):
            yield node
            stack.extend(vars(node).values())
        elif isinstance(node, dict):
            stack.extend(node.values())
        elif isinstance(node, list | tuple):
            stack.extend(node)


def _path(path: str, data: Any) -> Any:
    if path == "$":
        return data
    if not path.startswith("$."):
        raise DistributedMapError(f"only $-rooted paths are supported here, got {path!r}")
    for part in path[2:].split("."):
        if not isinstance(data, dict) or part not in data:
            return None
        data = data[part]
    return data


def _resolve(value: Any, data: Any) -> Any:
    """Parameters-style: keys ending in ``.$`` take a JSONPath from ``data``."""
    if isinstance(value, dict):
        return {(k[:-2] if k.endswith(".$") else k): (_path(v, data) if k.endswith(".$") else _resolve(v, data))
                for k, v in value.items()}  # fmt: skip
    return value


def batch_items(items: list[Any], spec: dict[str, Any], state_input: Any) -> list[dict[str, Any]]:
    size = _path(spec["MaxItemsPerBatchPath"], state_input) if "MaxItemsPerBatchPath" in spec else None
    size = int(size or spec.get("MaxItemsPerBatch") or DEFAULT_MAX_ITEMS)
    if size < 1:
        raise DistributedMapError(f"MaxItemsPerBatch must be at least 1, got {size}")
    batch_input = _resolve(spec.get("BatchInput", {}), state_input)
    return [
        {"Items": items[i : i + size], "BatchInput": copy.deepcopy(batch_input)} for i in range(0, len(items), size)
    ]


def tolerated_percentage(raw: dict[str, Any], state_input: Any) -> float:
    if "ToleratedFailurePercentagePath" in raw:
        return float(_path(raw["ToleratedFailurePercentagePath"], state_input) or 0)
    return float(raw.get("ToleratedFailurePercentage", 0))


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def install(ctx: LocalCloudContext) -> None:
    patches.wrap(AmazonStateLanguageParser, "parse", _parse)
    patches.wrap(ItemReader, "_eval_body", _batched_reader)
    patches.wrap(DistributedItemProcessorWorker, "_eval_job", _recorded_job)
    patches.wrap(DistributedIterationComponent, "_map_run", _tolerant_map_run)
    patches.wrap(ResultWriter, "_eval_body", _write_results)
    patches.replace(ResourceEvalS3, "_handle_list_objects_v2", staticmethod(_list_every_page))


def _parse(original: Any) -> Any:
    def parse(definition: str) -> Any:
        stripped, maps = strip_batchers(definition)
        program, context = original(stripped)
        for component in _components(program):
            if isinstance(component, StateMap) and component.name in maps:
                raw = maps[component.name]
                parts: tuple[Any, ...] = (component.item_reader, component.iteration_component, component.result_writer)
                for part in parts:
                    if part is not None:
                        _RAW_MAPS[part] = raw
        return program, context

    return staticmethod(parse)


def list_every_page(s3: Any, parameters: dict[str, Any]) -> list[dict[str, Any]]:
    """Every object ``list_objects_v2`` returns for ``parameters``, page after page."""
    contents: list[dict[str, Any]] = []
    request = dict(parameters)
    while True:
        page = s3.list_objects_v2(**request)
        contents += page.get("Contents", [])  # an empty prefix has no Contents at all: zero items
        if not page.get("IsTruncated"):
            return contents
        request["ContinuationToken"] = page["NextContinuationToken"]


#: How many keys moto's S3 returns a page, as ListObjectsV2's default MaxKeys.
PAGE_KEYS = 1000


def list_in_process(parameters: dict[str, Any]) -> list[dict[str, Any]] | None:
    """``list_every_page`` read from moto's S3 backend: the same ``Contents`` entries, as boto3 parses
    them from moto's XML (LastModified to the second, in UTC). None when the HTTP route must answer."""
    if set(parameters) - {"Bucket", "Prefix"}:
        return None
    backend = s3_backends[DEFAULT_ACCOUNT_ID]["aws"]  # the ASL's client signs with moto's default account
    try:
        bucket = backend.get_bucket(parameters["Bucket"])
    except MissingBucket:
        return None  # the error as S3 answers it, from the HTTP route
    contents: list[dict[str, Any]] = []
    token: str | None = None
    while True:
        keys, truncated, token = backend.list_objects_v2(
            bucket=bucket, prefix=parameters.get("Prefix") or None, delimiter=None,
            continuation_token=token, start_after=None, max_keys=PAGE_KEYS,
        )  # fmt: skip
        contents += [_listed(key) for key in keys if isinstance(key, FakeKey)]
        if not truncated:
            return contents


def _listed(key: FakeKey) -> dict[str, Any]:
    item: dict[str, Any] = {
        "Key": key.name,
        "LastModified": key.last_modified.replace(microsecond=0, tzinfo=UTC),
        "ETag": key.etag,
        "Size": key.size,
        "StorageClass": key.storage_class,
    }
    if key.checksum_algorithm:
        item["ChecksumAlgorithm"] = [key.checksum_algorithm]
    return item


def _list_every_page(env: Any, resource_runtime_part: Any, state_credentials: Any) -> None:
    parameters = env.stack.pop()
    contents = list_in_process(parameters) if "lists" in levers.enabled() else None
    if contents is None:
        s3 = ResourceEvalS3._get_s3_client(
            resource_runtime_part=resource_runtime_part, state_credentials=state_credentials
        )
        contents = list_every_page(s3, parameters)
    env.stack.append(contents)


def _batched_reader(original: Any) -> Any:
    def _eval_body(self: ItemReader, env: Any) -> None:
        original(self, env)
        raw = _RAW_MAPS.get(self, {})
        if "ItemBatcher" in raw:
            items = env.stack.pop()
            env.stack.append(batch_items(list(items), raw["ItemBatcher"], env.states.get_input()))

    return _eval_body


def _recorded_job(original: Any) -> Any:
    """Keep each child's status, error and cause (moto keeps only successful outputs)."""

    def _eval_job(self: Any, env: Any, job: Any) -> None:
        started = _now()
        original(self, env, job)
        state = env.program_state()
        record: dict[str, Any] = {
            "Input": json.dumps(job.job_input, default=str),
            "StartDate": started,
            "StopDate": _now(),
        }
        if isinstance(state, ProgramError):
            details = state.error or {}
            record.update(
                Status="FAILED", Error=details.get("error", "States.TaskFailed"), Cause=details.get("cause", "")
            )
        elif job.job_output is None:
            record.update(Status="FAILED", Error="States.Runtime", Cause="the child workflow did not complete")
        else:
            record.update(Status="SUCCEEDED", Output=json.dumps(job.job_output, default=str))
        job.job_output = {CHILD_RESULT: record}

    return _eval_job


def _tolerant_map_run(original: Any) -> Any:
    def _map_run(self: Any, env: Any, eval_input: Any) -> None:
        map_input = copy.deepcopy(env.states.get_input())
        original(self, env, eval_input)
        records = [o[CHILD_RESULT] for o in env.stack.pop() if isinstance(o, dict) and CHILD_RESULT in o]
        run = eval_input.map_run_record.map_run_arn
        for i, record in enumerate(records):
            record.update(ExecutionArn=f"{run.replace(':mapRun:', ':execution:')}:{i}", Name=str(uuid.uuid4()))
        failed = sum(r["Status"] != "SUCCEEDED" for r in records)
        tolerated = tolerated_percentage(_RAW_MAPS.get(self, {}), map_input)
        if records and failed * 100.0 > tolerated * len(records):
            raise _threshold_exceeded(env, failed, len(records), tolerated)
        env.stack.append({CHILD_RESULT: records, "input": map_input})

    return _map_run


def _threshold_exceeded(env: Any, failed: int, total: int, tolerated: float) -> FailureEventException:
    from moto.stepfunctions.parser.api import HistoryEventType, MapRunFailedEventDetails  # noqa: PLC0415
    from moto.stepfunctions.parser.asl.eval.event.event_detail import EventDetails  # noqa: PLC0415

    error = StatesErrorName(typ=StatesErrorNameType.StatesExceedToleratedFailureThreshold)
    cause = f"{failed} of {total} child workflows failed, more than the tolerated {tolerated:g}%"
    details = EventDetails(mapRunFailedEventDetails=MapRunFailedEventDetails(error=error.error_name, cause=cause))  # type: ignore[typeddict-item]
    return FailureEventException(
        FailureEvent(env=env, error_name=error, event_type=HistoryEventType.MapRunFailed, event_details=details)
    )


def _write_results(original: Any) -> Any:
    """AWS's ResultWriter output: result files by status, and a manifest listing them."""

    def _eval_body(self: ResultWriter, env: Any) -> None:
        results = env.stack.pop()
        records, map_input = results[CHILD_RESULT], results["input"]
        params = _resolve(_RAW_MAPS.get(self, {})["ResultWriter"].get("Parameters", {}), map_input)
        bucket, prefix = params["Bucket"], params.get("Prefix", "")
        if prefix and not prefix.endswith("/"):
            prefix += "/"
        map_run = env.map_run_record_pool_manager.get_all()[-1].map_run_arn
        base = f"{prefix}{map_run.split(':')[-1]}/"
        s3: Any = boto_client.boto_client_for(region=env.aws_execution_details.region, service="s3")
        files: dict[str, list[dict[str, Any]]] = {"FAILED": [], "PENDING": [], "SUCCEEDED": []}
        for status in ("SUCCEEDED", "FAILED"):
            chunk = [r for r in records if (r["Status"] == "SUCCEEDED") == (status == "SUCCEEDED")]
            if chunk:
                body = json.dumps(chunk).encode()
                key = f"{base}{status}_0.json"
                s3.put_object(Bucket=bucket, Key=key, Body=body)
                files[status].append({"Key": key, "Size": len(body)})
        manifest = {"DestinationBucket": bucket, "MapRunArn": map_run, "ResultFiles": files}
        s3.put_object(Bucket=bucket, Key=f"{base}manifest.json", Body=json.dumps(manifest, indent=2).encode())
        env.stack.append(
            {"MapRunArn": map_run, "ResultWriterDetails": {"Bucket": bucket, "Key": f"{base}manifest.json"}}
        )

    return _eval_body
