"""Plugin: S3 -> EventBridge -> Step Functions, which moto cannot deliver on its own.

* S3 emits the real "Object Created" shape (ISO time, URL-encoded key, ``etag``,
  a per-put sequencer) instead of moto's approximation: exactly one per object
  version, with AWS's ``reason`` (moto's CompleteMultipartUpload also sends the
  Put of the assembled object, which is dropped here).
* A rule whose target is a state machine starts an execution named after the
  object version (:func:`sfn_workbench.localcloud.naming.execution_name`), so a duplicate
  delivery of the same event is absorbed as ``ExecutionAlreadyExists``.
* ``start_execution`` without a name gets a UUID, as on AWS, not ``None``.
"""

from __future__ import annotations

import copy
import itertools
import json
import logging
import threading
import time
import uuid
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote_plus

import moto.s3.notifications as s3_notifications
from moto.awslambda.models import lambda_backends
from moto.events.models import Rule, events_backends
from moto.events.utils import EventTemplateParser
from moto.stepfunctions.exceptions import ExecutionAlreadyExists
from moto.stepfunctions.parser.models import StepFunctionsParserBackend
from moto.stepfunctions.responses import get_backend
from moto.utilities.arns import parse_arn

from sfn_workbench.localcloud import patches
from sfn_workbench.localcloud.context import LocalCloudContext
from sfn_workbench.localcloud.naming import execution_name

PATCH_TARGETS: tuple[patches.Target, ...] = (
    (Rule, "send_to_targets"),
    (s3_notifications, "_send_event_bridge_message"),
    (StepFunctionsParserBackend, "start_execution"),
)
log = logging.getLogger("sfn_workbench.localcloud.eventbridge")
_sequence = itertools.count(1)
#: moto's notification name -> the API S3 names as the event's ``reason``.
REASONS = {
    "s3:ObjectCreated:Put": "PutObject",
    "s3:ObjectCreated:Post": "POST Object",
    "s3:ObjectCreated:Copy": "CopyObject",
    "s3:ObjectCreated:CompleteMultipartUpload": "CompleteMultipartUpload",
}


def reason_for(event_name: str, key: Any) -> str | None:
    """The ``reason`` of the one event an object version gets; None for a notification to drop."""
    if event_name == "s3:ObjectCreated:Put" and getattr(key, "multipart", None) is not None:
        return None  # moto's complete_multipart_upload stores the object with a Put, then sends its own event
    return REASONS.get(event_name)


def object_created_event(account_id: str, region: str, bucket: str, key: Any, reason: str) -> dict[str, Any]:
    """The event S3 sends to EventBridge for a new object, as documented by AWS."""
    sequencer = f"{time.time_ns():016X}{next(_sequence) % 256:02X}"
    obj: dict[str, Any] = {
        "key": quote_plus(key.name, safe="/"),
        "size": key.size,
        "etag": key.etag.strip('"'),
        "sequencer": sequencer,
    }
    if key.version_id and key.version_id != "null":
        obj["version-id"] = key.version_id
    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": "Object Created",
        "source": "aws.s3",
        "account": account_id,
        "time": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "region": region,
        "resources": [f"arn:aws:s3:::{bucket}"],
        "detail": {
            "version": "0",
            "bucket": {"name": bucket},
            "object": obj,
            "request-id": uuid.uuid4().hex[:16].upper(),
            "requester": account_id,
            "source-ip-address": "127.0.0.1",
            "reason": reason,
        },
    }


def name_for(event: dict[str, Any]) -> str:
    """The execution name for an event: from the S3 object when it is one, else the event id."""
    detail = event.get("detail", {})
    if event.get("source") == "aws.s3" and "object" in detail:
        obj = detail["object"]
        return execution_name(
            detail["bucket"]["name"], obj["key"], etag=obj.get("etag"), sequencer=obj.get("sequencer")
        )
    return str(event.get("id") or uuid.uuid4())


def target_input(target: dict[str, Any], event: dict[str, Any]) -> str:
    if "Input" in target:
        return str(target["Input"])
    if "InputTransformer" in target:
        transformer = target["InputTransformer"]
        return json.dumps(
            EventTemplateParser.parse(
                input_template=transformer.get("InputTemplate"),
                input_paths_map=transformer.get("InputPathsMap", {}),
                event=event,  # type: ignore[arg-type]  # moto's TypedDict of the same shape
            )
        )
    return json.dumps(event)


def start_for_event(arn: str, event: dict[str, Any], payload: str) -> str | None:
    """Start one execution for an event; None when it is a duplicate delivery."""
    parsed = parse_arn(arn)
    backend = get_backend(parsed.account, parsed.region)
    name = name_for(event)
    try:
        execution = backend.start_execution(arn, name=name, execution_input=payload)
    except ExecutionAlreadyExists:
        log.info("duplicate event %s: execution %s already exists", event.get("id"), name)
        return None
    arn = str(execution.exec_arn)  # type: ignore[attr-defined]  # the ASL-executing backend's Execution
    log.info("event %s started %s", event.get("id"), arn)
    return arn


def install(ctx: LocalCloudContext) -> None:
    def send_event_bridge_message(account_id: str, bucket: Any, event_name: str, key: Any) -> None:
        name = str(getattr(event_name, "value", event_name))  # s3:ObjectCreated:Put
        reason = reason_for(name, key)
        if reason is None:
            return  # Object Created only (the pipeline subscribes to nothing else), once per version
        event = object_created_event(account_id, bucket.region_name, bucket.name, key, reason)
        for bus in events_backends[account_id][bucket.region_name].event_buses.values():
            for rule in list(bus.rules.values()):
                try:
                    rule.send_to_targets(event, transform_input=False)  # type: ignore[arg-type]
                except Exception:  # S3 delivery is asynchronous on AWS: a target failure never fails the PUT
                    log.exception("delivering %s to rule %s failed", event["id"], rule.name)

    patches.wrap(Rule, "send_to_targets", _send_to_targets)
    patches.replace(s3_notifications, "_send_event_bridge_message", send_event_bridge_message)
    patches.wrap(StepFunctionsParserBackend, "start_execution", _named_start_execution)


def invoke_async(account: str, region: str, arn: str, payload: str) -> None:
    def run() -> None:
        try:
            lambda_backends[account][region].get_function(arn).invoke(payload, {}, {})
        except Exception:
            log.exception("EventBridge's invocation of %s failed", arn)

    threading.Thread(target=run, name="events-invoke", daemon=True).start()


def _send_to_targets(original: Any) -> Any:
    def send_to_targets(self: Rule, event: dict[str, Any], transform_input: bool = True) -> None:
        if self.scheduled_expression:
            return  # a scheduled rule never matches events (schedule_plugin runs it)
        if self.state != "ENABLED" or not self.event_pattern.matches_event(event):  # type: ignore[arg-type]
            return
        states = [t for t in self.targets if parse_arn(t["Arn"]).service == "states"]
        for target in states:
            start_for_event(target["Arn"], event, target_input(target, event))
        functions = [t for t in self.targets if parse_arn(t["Arn"]).service == "lambda"]
        for target in functions:  # moto has no Lambda target: EventBridge invokes it asynchronously
            invoke_async(self.account_id, self.region_name, target["Arn"], target_input(target, event))
        others = [t for t in self.targets if t not in states and t not in functions]
        if others:  # moto's own delivery for every other target type, on a copy: the rule is not changed
            rule = copy.copy(self)
            rule.targets = others
            original(rule, event, transform_input)

    return send_to_targets


def _named_start_execution(original: Any) -> Any:
    def start_execution(
        self: Any,
        state_machine_arn: str,
        name: str | None = None,
        execution_input: Any = None,
        trace_header: Any = None,
    ) -> Any:
        return original(self, state_machine_arn, name or str(uuid.uuid4()), execution_input, trace_header)

    return start_execution
