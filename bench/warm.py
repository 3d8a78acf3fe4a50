"""Measure 2: warm per-image cost, as multiples of the raw LiteRT invoke.

In-process figures come from ``probes/warm.py`` in a fresh execution environment per
thread count; the local cloud's Lambda path is timed here, with boto3's
``lambda.invoke`` against the deployed function, reconfigured to the in-process
probe's settings so the two differ only by the path.
"""

from __future__ import annotations

import json
import re
import statistics
import time
from pathlib import Path
from typing import Any

from bench.common import BATCH_SIZE, PROBES, Settings, confident_references, ratio, run_measured, summary, tail
from bench.workspace import IMAGE, Workspace, inline_payload
from sfn_workbench.localcloud.lambda_runtime import RUNTIME_CLIENT_OPTION

THREADS = (1, 2)
REPORT = re.compile(r"^REPORT RequestId: \S+\s+Duration: ([\d.]+) ms", re.MULTILINE)


def in_process(ws: Workspace, settings: Settings, threads: int, raw_only: bool = False) -> dict[str, Any]:
    """One fresh environment: every variant of ``probes/warm.py``, summarised per image."""
    tag = f"warm-t{threads}{'-raw' if raw_only else ''}"
    out = ws.root / f"{tag}.json"
    capture_dir = ws.captures / tag
    jpeg = ws.root / "reference.jpg"
    if not jpeg.exists():
        from PIL import Image

        Image.open(IMAGE).convert("RGB").save(jpeg, "JPEG", quality=95)
    command = [
        ws.python(), str(PROBES / "warm.py"), "--out", str(out), "--runs", str(settings.repeats), "--jpeg", str(jpeg),
        "--block-s", str(settings.block_s), "--batch", str(BATCH_SIZE),
        "--images", *map(str, confident_references()),
        *(["--raw-only"] if raw_only else []),
    ]  # fmt: skip
    env = ws.classify_env(threads=threads, capture_dir=capture_dir)
    log = ws.log(tag)
    measured, _ = run_measured(command, env=env, cwd=ws.task_root, log=log, timeout_s=300)
    if measured.returncode != 0:
        raise RuntimeError(f"{tag} exited {measured.returncode}:\n{tail(log)}")
    data: dict[str, Any] = json.loads(out.read_text())
    data["per_image"] = {k: summary(v, "s") for k, v in data.pop("samples_s_per_image").items()}
    data["peak_rss_mb"] = measured.maxrss_mb
    return data


def _invoke(client: Any, function: str, event: dict[str, Any]) -> dict[str, Any]:
    response = client.invoke(FunctionName=function, Payload=json.dumps(event).encode())
    body: dict[str, Any] = json.loads(response["Payload"].read())
    if response.get("FunctionError"):
        raise RuntimeError(f"{function} failed: {str(body)[:300]}")
    return body


def _reports_since(log: Path, offset: int) -> list[float]:
    if not log.exists():
        return []
    with log.open("rb") as f:
        f.seek(offset)
        text = f.read().decode(errors="replace")
    return [float(ms) / 1000 for ms in REPORT.findall(text)]


def lambda_path(
    cloud: Any, function: str, settings: Settings, variables: dict[str, str], batch_supported: bool
) -> dict[str, Any]:
    """Per-image cost of ``lambda.invoke`` round trips, with the function configured with ``variables``.

    Changing the configuration gives the function fresh execution environments (as
    Lambda does); a few untimed invocations warm them before the timed blocks.
    """
    client = cloud.client("lambda")
    client.update_function_configuration(FunctionName=function, Environment={"Variables": variables})
    log = cloud.ctx.logs_dir / f"{function}.log"
    images = confident_references()
    events = [inline_payload(p) for p in images]
    batch_event = {
        "mode": "batch",
        "bucket": events[0]["s3_bucket"],
        "items": [events[i % len(events)] for i in range(BATCH_SIZE)],
    }
    for event in events[:3]:
        _invoke(client, function, event)
    # Each block cycles through the images, one payload (b1) or one batch event (bN) per call.
    blocks: dict[str, tuple[list[dict[str, Any]], int]] = {"b1": (events, 1)}
    if batch_supported:
        blocks[f"b{BATCH_SIZE}"] = ([batch_event], BATCH_SIZE)
    samples: dict[str, list[float]] = {k: [] for k in blocks}
    worker: dict[str, list[float]] = {k: [] for k in blocks}
    for _ in range(settings.repeats):
        for key, (cycle, per_call) in blocks.items():
            offset = log.stat().st_size if log.exists() else 0
            _invoke(client, function, cycle[0])  # untimed, as in the in-process probe
            calls, start = 0, time.perf_counter()
            while True:
                _invoke(client, function, cycle[calls % len(cycle)])
                calls += 1
                elapsed = time.perf_counter() - start
                if elapsed >= settings.block_s * 2 or calls >= 10_000:  # twice as long: more jitter per call
                    break
            samples[key].append(elapsed / (calls * per_call))
            durations = _reports_since(log, offset)[1:]
            if durations:
                worker[key].append(statistics.median(durations) / per_call)
    return {
        "threads": int(variables.get("LITERT_NUM_THREADS", "1")),
        "capture": variables.get("CAPTURE_DESTINATION_S3_URI", ""),
        "per_image": {k: summary(v, "s") for k, v in samples.items()},
        # REPORT Duration: the worker's side, from the event handed to the runtime to its response (as Lambda
        # measures it): the Runtime API hop and the handler, without boto3, moto's HTTP or the invoker's wait.
        "report_duration_per_image": {k: summary(v, "s") for k, v in worker.items()},
    }


def measure(ws: Workspace, settings: Settings, cloud: Any, function: str) -> dict[str, Any]:
    probes = {t: in_process(ws, settings, t) for t in THREADS}
    bn = f"b{BATCH_SIZE}"
    batch_supported = f"handler_{bn}" in probes[1]["per_image"]
    client = cloud.client("lambda")
    deployed: dict[str, str] = client.get_function_configuration(FunctionName=function)["Environment"]["Variables"]
    paths: dict[str, Any] = {}
    try:
        for t in THREADS:
            capture = (ws.captures / f"lambda-t{t}").as_uri()  # the same kind of sink as the in-process probe
            variables = deployed | {"LITERT_NUM_THREADS": str(t), "CAPTURE_DESTINATION_S3_URI": capture}
            paths[f"t{t}"] = lambda_path(cloud, function, settings, variables, batch_supported)
        # The opt-in lean runtime client (lambda_runtime.RUNTIME_CLIENT_OPTION): the same path, another hop.
        lean = deployed | {
            "LITERT_NUM_THREADS": "1",
            "CAPTURE_DESTINATION_S3_URI": (ws.captures / "lambda-t1").as_uri(),
        }
        paths["t1_lean"] = lambda_path(cloud, function, settings, lean | {RUNTIME_CLIENT_OPTION: "lean"}, False)
    finally:  # what follows (the pipeline measure) runs the function as deployed
        client.update_function_configuration(FunctionName=function, Environment={"Variables": deployed})

    rows: dict[str, Any] = {}
    for t in THREADS:
        per = probes[t]["per_image"]
        raw1, raw_n = per["raw_b1"]["median"], per[f"raw_{bn}"]["median"]
        handler_n = per.get(f"handler_{bn}", per.get(f"core_{bn}"))
        lam = paths[f"t{t}"]["per_image"]
        rows[f"t{t}"] = {
            "handler_b1_over_raw_b1": ratio(per["handler_b1"]["median"], raw1),
            "handler_nocapture_b1_over_raw_b1": ratio(per["handler_nocapture_b1"]["median"], raw1),
            f"handler_{bn}_over_raw_{bn}": ratio(handler_n["median"], raw_n) if handler_n else None,
            "lambda_b1_over_raw_b1": ratio(lam["b1"]["median"], raw1),
            "lambda_b1_over_handler_b1": ratio(lam["b1"]["median"], per["handler_b1"]["median"]),
            f"lambda_{bn}_over_handler_{bn}": (
                ratio(lam[bn]["median"], handler_n["median"]) if bn in lam and handler_n else None
            ),
            f"lambda_{bn}_over_raw_{bn}": ratio(lam[bn]["median"], raw_n) if bn in lam else None,
        }
        for size in ("b1", bn):  # against the floor: the bare pipeline at the same batch size
            floor = per.get(f"bare_{size}", {}).get("median")
            for variant in ("handler", "handler_nometrics", "handler_filecapture", "handler_nocapture"):
                figure = per.get(f"{variant}_{size}", {}).get("median")
                rows[f"t{t}"][f"{variant}_{size}_over_bare_{size}"] = ratio(figure, floor)
    return {
        "status": "ok",
        "batch_size": BATCH_SIZE,
        "in_process": {f"t{t}": probes[t] for t in THREADS},
        "lambda_path": paths,
        "ratios": rows,
        "pending": probes[1].get("pending", {}),
    }
