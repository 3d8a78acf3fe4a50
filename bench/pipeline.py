"""Measure 3: pipeline throughput on the local cloud against raw LiteRT on the same machine,
and where one execution's time goes.

Rates come from the executions' own start and stop dates (millisecond timestamps
of the local cloud), so polling granularity does not enter them.
"""

from __future__ import annotations

import json
import re
import statistics
import time
import uuid
from collections import Counter
from pathlib import Path
from typing import Any

from bench import warm
from bench.common import BATCH_SIZE, Settings, confident_references, ratio, summary
from bench.workspace import Workspace

#: The per-image pipeline's states and the stack outputs naming their functions.
STATES = {"Serialize": "SerializeFunctionName", "Classify": "ClassifyFunctionName", "Filter": "FilterFunctionName"}
REPORT = re.compile(r"^REPORT RequestId: \S+\s+Duration: ([\d.]+) ms", re.MULTILINE)


def seed(cloud: Any, bucket: str, prefix: str, count: int | None = None) -> list[str]:
    """Upload the confident reference images (cycled to ``count`` objects) under ``prefix``."""
    s3 = cloud.client("s3")
    images = confident_references()
    keys = []
    for i in range(count or len(images)):
        image = images[i % len(images)]
        key = f"{prefix}{i:05d}-{image.name}" if count else f"{prefix}{image.name}"
        s3.put_object(Bucket=bucket, Key=key, Body=image.read_bytes())
        keys.append(key)
    return keys


def wait_terminal(sfn: Any, state_machine: str, arns: list[str], timeout_s: float) -> list[dict[str, Any]]:
    """Poll the RUNNING list (one call, however many executions) until none of ``arns`` is in it."""
    pending = set(arns)
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        running = {
            e["executionArn"]
            for page in sfn.get_paginator("list_executions").paginate(
                stateMachineArn=state_machine, statusFilter="RUNNING"
            )
            for e in page["executions"]
        }
        if not running & pending:
            break
        time.sleep(0.1)
    return [sfn.describe_execution(executionArn=arn) for arn in arns]


def _span(executions: list[dict[str, Any]]) -> float | None:
    stops = [e["stopDate"] for e in executions if "stopDate" in e]
    if len(stops) != len(executions):
        return None
    return float((max(stops) - min(e["startDate"] for e in executions)).total_seconds())


def run_executions(
    cloud: Any, state_machine: str, bucket: str, keys: list[str], count: int, timeout_s: float
) -> dict[str, Any]:
    """Start ``count`` executions, one per test case, back to back; wait for all of them."""
    sfn = cloud.client("stepfunctions")
    token = uuid.uuid4().hex[:8]
    started = time.monotonic()
    arns = [
        sfn.start_execution(
            stateMachineArn=state_machine,
            name=f"bench-{token}-{i}",
            input=json.dumps({"s3_bucket": bucket, "s3_key": keys[i % len(keys)]}),
        )["executionArn"]
        for i in range(count)
    ]
    start_calls = time.monotonic() - started
    executions = wait_terminal(sfn, state_machine, arns, timeout_s)
    span = _span(executions)
    return {
        "executions": count,
        "statuses": dict(Counter(e["status"] for e in executions)),
        "span_s": span,
        "start_calls_s": start_calls,
        "per_s": count / span if span else None,
    }


def _log_size(path: Path) -> int:
    return path.stat().st_size if path.exists() else 0


def _reports(path: Path, offset: int) -> list[float]:
    with path.open("rb") as f:
        f.seek(offset)
        return [float(ms) / 1000 for ms in REPORT.findall(f.read().decode(errors="replace"))]


def split_once(cloud: Any, outputs: dict[str, Any], key: str, model_s: float) -> dict[str, float]:
    """One execution alone on a warm cloud, its time cut into parts that add up to its duration.

    From the history: each task's scheduled -> succeeded span (the Lambda invoke as Step
    Functions sees it); the rest of the execution is state transitions. From the REPORT
    lines: each function's own duration; the span minus it is the invoke overhead.
    serialize's duration is its S3 HEAD and GET; classify's is split into the model's
    raw invoke (measured in this run) and the rest of the handler.
    """
    sfn = cloud.client("stepfunctions")
    logs = {state: cloud.ctx.logs_dir / f"{outputs[out]}.log" for state, out in STATES.items()}
    offsets = {state: _log_size(path) for state, path in logs.items()}
    arn = sfn.start_execution(
        stateMachineArn=outputs["StateMachineArn"],
        name=f"bench-split-{uuid.uuid4().hex[:8]}",
        input=json.dumps({"s3_bucket": outputs["BucketName"], "s3_key": key}),
    )["executionArn"]
    [execution] = wait_terminal(sfn, outputs["StateMachineArn"], [arn], 60)
    if execution["status"] != "SUCCEEDED":
        raise RuntimeError(f"split execution {execution['status']}: {execution.get('cause', '')[:300]}")
    events = sfn.get_execution_history(executionArn=arn, maxResults=1000)["events"]
    spans: dict[str, float] = {}
    current, scheduled = None, None
    for event in events:
        if event["type"] == "TaskStateEntered":
            current = event["stateEnteredEventDetails"]["name"]
        elif event["type"] == "TaskScheduled":
            scheduled = event["timestamp"]
        elif event["type"] == "TaskSucceeded" and current and scheduled:
            spans[current] = (event["timestamp"] - scheduled).total_seconds()
    durations = {state: _reports(path, offsets[state])[-1] for state, path in logs.items()}
    total = (execution["stopDate"] - execution["startDate"]).total_seconds()
    return {
        "total": total,
        "state_transitions": total - sum(spans.values()),
        "lambda_invoke_overhead": sum(spans[s] - durations[s] for s in STATES),
        "s3_serialize": durations["Serialize"],
        "model": model_s,
        "classify_handler_rest": durations["Classify"] - model_s,
        "filter": durations["Filter"],
    }


def batch_throughput(cloud: Any, outputs: dict[str, Any], settings: Settings) -> dict[str, Any]:
    """The Distributed Map over a prefix of ``settings.batch_images`` objects, per run."""
    arn = outputs.get("BatchStateMachineArn")
    if not arn:
        return {
            "status": "pending",
            "reason": "the stack has no BatchStateMachineArn output (statemachine/batch.asl.json not deployed yet)",
        }
    bucket = outputs["BucketName"]
    prefix = f"test/bench-batch-{uuid.uuid4().hex[:6]}/"
    seed(cloud, bucket, prefix, settings.batch_images)
    sfn = cloud.client("stepfunctions")
    runs = []
    for i in range(settings.throughput_runs):
        execution_arn = sfn.start_execution(
            stateMachineArn=arn,
            name=f"bench-batch-{uuid.uuid4().hex[:8]}-{i}",
            input=json.dumps({"bucket": bucket, "prefix": prefix}),
        )["executionArn"]
        [execution] = wait_terminal(sfn, arn, [execution_arn], 120 if settings.quick else 300)
        span = _span([execution])
        output = execution.get("output") or "{}"
        runs.append(
            {
                "status": execution["status"],
                "span_s": span,
                "images_per_s": settings.batch_images / span if span and execution["status"] == "SUCCEEDED" else None,
                "output": output[:500],
                "cause": (execution.get("cause") or "")[:300],
            }
        )
    rates = [r["images_per_s"] for r in runs if r["images_per_s"]]
    return {
        "status": "ok" if rates else "error",
        "images": settings.batch_images,
        "batch_size": int(cloud.stack("sfn-inference")["parameters"].get("BatchSize", BATCH_SIZE)),
        "images_per_s": summary(rates, "images/s"),
        "runs": runs,
    }


def measure(ws: Workspace, settings: Settings, cloud: Any) -> dict[str, Any]:
    outputs = cloud.stack("sfn-inference")["outputs"]
    bucket, state_machine = outputs["BucketName"], outputs["StateMachineArn"]
    keys = seed(cloud, bucket, "test/bench/")
    # Warm-up: enough concurrent executions for the pool to start its workers before timing.
    run_executions(cloud, state_machine, bucket, keys, min(8, settings.executions), 120)
    runs = [
        run_executions(cloud, state_machine, bucket, keys, settings.executions, 300)
        for _ in range(settings.throughput_runs)
    ]
    per_image = summary([r["per_s"] for r in runs if r["per_s"]], "executions/s")
    batch = batch_throughput(cloud, outputs, settings)

    # The limit, measured now: raw LiteRT in a fresh environment, one thread as deployed.
    raw = warm.in_process(ws, settings, threads=1, raw_only=True)["per_image"]
    bn = f"raw_b{BATCH_SIZE}"
    limits = {"raw_b1": 1 / raw["raw_b1"]["median"], bn: 1 / raw[bn]["median"]}
    best = bn  # one batch size for every ratio: the batch's own (the faster of the two, as it happens)

    splits = [split_once(cloud, outputs, keys[i % len(keys)], raw["raw_b1"]["median"]) for i in range(settings.repeats)]
    split = {part: summary([s[part] for s in splits], "s") for part in splits[0]}
    total = statistics.median(s["total"] for s in splits)
    batch_rate = batch.get("images_per_s", {}).get("median") if batch["status"] == "ok" else None
    return {
        "status": "ok",
        "per_image_executions": {"executions_per_s": per_image, "runs": runs},
        "batch": batch,
        "raw_limit": {"images_per_s": limits, "best": best, "threads": 1},
        "ratios": {
            "per_image_over_raw": ratio(per_image["median"], limits[best]),
            "batch_over_raw": ratio(batch_rate, limits[best]),
            "batch_over_per_image": ratio(batch_rate, per_image["median"]),
        },
        "split": split,
        "split_shares": {part: ratio(split[part]["median"], total) for part in split if part != "total"},
    }
