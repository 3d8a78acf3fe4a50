"""Measure 7: nothing lost. Each figure must read 0 lost (issue 11), and the monitor's cost (issue 14).

* exactly once: N uploads under ``incoming/`` (bad objects among them) with a tenth of the
  S3 events delivered again; every key must end in exactly one execution, none stuck;
* captures after ``down``: every classify inference of a run has its capture record in S3
  once the cloud is stopped at once and started again (S3 is kept across down/up);
* the drift monitor over 10,000 capture records: its run time.

Each runs on a cloud of its own, stopped before the next starts.
"""

from __future__ import annotations

import base64
import json
import time
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import unquote_plus

from bench.common import REFERENCE, Settings
from sfn_inference.adapters.memory import InMemoryObjectStore
from sfn_inference.core.bundle import ModelBundle
from sfn_inference.datacapture.config import DataCaptureConfig
from sfn_inference.datacapture.writer import build_record, capture_path
from sfn_inference.monitoring.checks import Thresholds
from sfn_inference.monitoring.run import Location, Window, baseline_of, monitor
from sfn_workbench.capture_reader import load_captures
from sfn_workbench.localcloud import control

BAD = {"notes.txt": b"not an image", "empty.png": b"", "truncated.png": (REFERENCE / "3_00023.png").read_bytes()[:120]}
TIMEOUT_S = 600


def _objects(n: int) -> dict[str, bytes]:
    pngs = sorted(REFERENCE.glob("*.png"))
    objects = {}
    for i in range(n):
        if i % 20 == 19:  # 5 % bad objects
            name, body = list(BAD.items())[i % len(BAD)]
        else:
            name, body = pngs[i % len(pngs)].name, pngs[i % len(pngs)].read_bytes()
        objects[f"incoming/bench-once/{i:05d}-{name}"] = body
    return objects


def _all_executions(sfn: Any, machine: str) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    for page in sfn.get_paginator("list_executions").paginate(stateMachineArn=machine):
        found += page["executions"]
    return found


def exactly_once(settings: Settings, scratch: Path) -> dict[str, Any]:
    if settings.quick:  # a cloud of its own: tests/integration/test_local_cloud.py covers duplicates
        return {"status": "skipped", "reason": "--quick starts no extra cloud"}
    n = 1000
    cloud = control.start(scratch / "clouds" / "exactly-once", max_workers=4)
    try:
        cloud.deploy("litert")
        stack = cloud.stack(control.STACKS["litert"])
        bucket, machine = stack["outputs"]["BucketName"], stack["outputs"]["StateMachineArn"]
        s3, sfn, events = cloud.client("s3"), cloud.client("stepfunctions"), cloud.client("events")
        objects = _objects(n)
        started = time.monotonic()
        with ThreadPoolExecutor(max_workers=8) as pool:
            list(pool.map(lambda kv: s3.put_object(Bucket=bucket, Key=kv[0], Body=kv[1]), objects.items()))
        deadline = time.monotonic() + TIMEOUT_S
        executions: list[dict[str, Any]] = []
        redelivered = 0
        while time.monotonic() < deadline:
            executions = _all_executions(sfn, machine)
            if redelivered == 0 and len(executions) >= n // 2:
                redelivered = _redeliver(sfn, events, executions[: max(1, n // 10)])
            if len(executions) >= n and all(e["status"] != "RUNNING" for e in executions):
                break
            time.sleep(1.0)
        span = time.monotonic() - started
        keys = Counter(_key(sfn, e["executionArn"]) for e in executions)
        return {
            "status": "ok",
            "uploads": n,
            "bad_objects": sum(1 for k in objects if k.rsplit("-", 1)[1] in BAD),
            "redelivered_events": redelivered,
            "executions": len(executions),
            "lost": len(set(objects) - keys.keys()),
            "duplicated": sum(c - 1 for c in keys.values() if c > 1),
            "stuck": sum(e["status"] == "RUNNING" for e in executions),
            "outcomes": dict(Counter(e["status"] for e in executions)),
            "span_s": span,
        }
    finally:
        cloud.stop()


def _redeliver(sfn: Any, events: Any, executions: list[dict[str, Any]]) -> int:
    """Hand EventBridge the same S3 events again (at-least-once delivery)."""
    entries = []
    for e in executions:
        event = json.loads(sfn.describe_execution(executionArn=e["executionArn"])["input"])
        entries.append({"Source": event["source"], "DetailType": event["detail-type"],
                        "Detail": json.dumps(event["detail"]), "Resources": event["resources"]})  # fmt: skip
    for i in range(0, len(entries), 10):
        events.put_events(Entries=entries[i : i + 10])
    return len(entries)


def _key(sfn: Any, arn: str) -> str:
    event = json.loads(sfn.describe_execution(executionArn=arn)["input"])
    return unquote_plus(event["detail"]["object"]["key"])


def captures_after_down(settings: Settings, scratch: Path) -> dict[str, Any]:
    if settings.quick:  # two clouds: tests/integration/test_capture_durability.py covers it
        return {"status": "skipped", "reason": "--quick starts no extra cloud"}
    n = 200
    state = scratch / "clouds" / "captures"
    cloud = control.start(state, max_workers=2)
    try:
        cloud.deploy("litert")
        stack = cloud.stack(control.STACKS["litert"])
        classify, bucket = stack["resources"]["ClassifyFunction"]["ref"], stack["outputs"]["BucketName"]
        lam = cloud.client("lambda")
        pngs = sorted(REFERENCE.glob("[0-9]_*.png"))
        inferences = 0
        for i in range(n):
            data = pngs[i % len(pngs)].read_bytes()
            event = {"s3_bucket": bucket, "s3_key": f"k{i}.png", "content_type": "image/png",
                     "image_data": base64.b64encode(data).decode()}  # fmt: skip
            inferences += "FunctionError" not in lam.invoke(FunctionName=classify, Payload=json.dumps(event))
    finally:
        cloud.stop()  # at once, right after the last inference
    cloud = control.start(state, max_workers=1)  # S3 is kept across down/up
    try:
        frame = load_captures(f"s3://{bucket}/captures/", s3_client=cloud.client("s3"))
        return {"status": "ok", "inferences": inferences, "records": len(frame), "lost": inferences - len(frame)}
    finally:
        cloud.stop()


def monitor_run(settings: Settings) -> dict[str, Any]:
    records = 500 if settings.quick else 10_000
    bundle = ModelBundle(REFERENCE.parent)
    baseline, _ = baseline_of(bundle)
    config = DataCaptureConfig.parse({
        "InitialSamplingPercentage": 100, "DestinationS3Uri": "s3://b/captures",
        "CaptureOptions": [{"CaptureMode": "Input"}, {"CaptureMode": "Output"}],
        "CaptureContentTypeHeader": {"JsonContentTypes": ["application/json"]},
    })  # fmt: skip
    store = InMemoryObjectStore()
    pngs = [p.read_bytes() for p in sorted(REFERENCE.glob("[0-9]_*.png"))]
    predictions = json.loads((REFERENCE / "predictions.json").read_text())
    names = sorted(p.name for p in REFERENCE.glob("[0-9]_*.png"))
    end = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
    lines = []
    for i in range(records):
        when = end - timedelta(minutes=59) + timedelta(seconds=3540 * i / records)
        record = build_record(config, input_body=pngs[i % len(pngs)], input_content_type="image/png",
                              output_body=json.dumps(predictions[names[i % len(names)]]).encode(),
                              output_content_type="application/json", inference_time=when)  # fmt: skip
        lines.append(json.dumps(record).encode() + b"\n")
    for chunk in range(0, records, 1000):
        path = capture_path("bench", "AllTraffic", end.replace(hour=11), f"{chunk:05d}")
        store.put("b", f"captures/{path}", b"".join(lines[chunk : chunk + 1000]), "application/jsonlines")
    started = time.perf_counter()
    report = monitor(store, source=Location("b", "captures/bench/AllTraffic/"), output=Location("b", "monitoring/"),
                     endpoint="bench", window=Window.ending(end, 60), bundle=bundle, baseline=baseline,
                     limits=Thresholds())  # fmt: skip
    seconds = time.perf_counter() - started
    return {
        "status": "ok",
        "records": report["item_count"],
        "seconds": seconds,
        "per_record_s": seconds / max(1, report["item_count"]),
    }


def measure(settings: Settings, scratch: Path) -> dict[str, Any]:
    out: dict[str, Any] = {"status": "ok"}
    measures: dict[str, Callable[[], dict[str, Any]]] = {
        "exactly_once": lambda: exactly_once(settings, scratch),
        "captures_after_down": lambda: captures_after_down(settings, scratch),
        "monitor": lambda: monitor_run(settings),
    }
    for name, fn in measures.items():
        try:
            out[name] = fn()
        except Exception as exc:  # a benchmark reports, it does not fail the run
            out[name] = {"status": "error", "reason": f"{type(exc).__name__}: {exc}"[:400]}
    return out
