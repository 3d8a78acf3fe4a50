"""Measure 5: local cloud start-up (``control.start`` to ready), deploy, and upload -> SUCCEEDED.

Each cycle starts a fresh server on a fresh state directory under the bench's temp
directory. The first cycle's cloud stays up for the warm measures (its functions are
cold until its first upload: exactly the "first image after ``up``" case).
"""

from __future__ import annotations

import json
import statistics
import subprocess
import time
import uuid
from pathlib import Path
from typing import Any

from bench.common import PROBES, Settings, base_env, ratio, summary, tail
from bench.workspace import IMAGE, Workspace

#: The issue's target for ``up`` to ready.
READY_TARGET_S = 5.0


def start_cloud(state_dir: Path) -> tuple[Any, float]:
    from sfn_workbench.localcloud import control

    started = time.monotonic()
    cloud = control.start(state_dir)
    return cloud, time.monotonic() - started


def _new_execution(sfn: Any, state_machine: str, known: set[str], timeout_s: float) -> dict[str, Any]:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        page = sfn.list_executions(stateMachineArn=state_machine, maxResults=100)
        for e in page["executions"]:
            if e["executionArn"] not in known and e["status"] != "RUNNING":
                return dict(sfn.describe_execution(executionArn=e["executionArn"]))
        time.sleep(0.02)
    raise TimeoutError(f"no execution finished within {timeout_s:.0f} s")


def upload_to_succeeded(cloud: Any, outputs: dict[str, Any], timeout_s: float = 60) -> float:
    """Put one image under incoming/; seconds from the PUT to the execution's stop date.

    Both ends are wall-clock times of this machine; the stop date is the local cloud's own.
    """
    sfn, s3 = cloud.client("stepfunctions"), cloud.client("s3")
    state_machine = outputs["StateMachineArn"]
    known = {e["executionArn"] for e in sfn.list_executions(stateMachineArn=state_machine)["executions"]}
    put_at = time.time()
    s3.put_object(
        Bucket=outputs["BucketName"], Key=f"incoming/bench-{uuid.uuid4().hex[:8]}.png", Body=IMAGE.read_bytes()
    )
    execution = _new_execution(sfn, state_machine, known, timeout_s)
    if execution["status"] != "SUCCEEDED":
        raise RuntimeError(f"triggered execution {execution['status']}: {execution.get('cause', '')[:300]}")
    return float(execution["stopDate"].timestamp() - put_at)


def start_to_succeeded(cloud: Any, outputs: dict[str, Any], key: str, timeout_s: float = 60) -> float:
    """The trigger's peer: StartExecution directly, to SUCCEEDED."""
    sfn = cloud.client("stepfunctions")
    started_at = time.time()
    arn = sfn.start_execution(
        stateMachineArn=outputs["StateMachineArn"],
        name=f"bench-direct-{uuid.uuid4().hex[:8]}",
        input=json.dumps({"s3_bucket": outputs["BucketName"], "s3_key": key}),
    )["executionArn"]
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        d = sfn.describe_execution(executionArn=arn)
        if d["status"] != "RUNNING":
            if d["status"] != "SUCCEEDED":
                raise RuntimeError(f"direct execution {d['status']}: {d.get('cause', '')[:300]}")
            return float(d["stopDate"].timestamp() - started_at)
        time.sleep(0.02)
    raise TimeoutError(f"{arn} still running after {timeout_s:.0f} s")


#: Warm upload / direct start pairs per cycle, interleaved so drift hits both alike.
PAIRS = 5


def cycle(state_dir: Path) -> tuple[Any, dict[str, float]]:
    """Start, deploy, then one upload on cold functions, then :data:`PAIRS` interleaved pairs of a warm
    upload and a direct start (each cycle reports their medians). Returns the running cloud: the
    caller stops it."""
    cloud, ready = start_cloud(state_dir)
    try:
        started = time.monotonic()
        cloud.deploy("litert")
        deploy = time.monotonic() - started
        outputs = cloud.stack("sfn-inference")["outputs"]
        cold = upload_to_succeeded(cloud, outputs)
        cloud.client("s3").put_object(Bucket=outputs["BucketName"], Key=f"test/{IMAGE.name}", Body=IMAGE.read_bytes())
        uploads, directs = [], []
        for _ in range(PAIRS):
            uploads.append(upload_to_succeeded(cloud, outputs))
            directs.append(start_to_succeeded(cloud, outputs, f"test/{IMAGE.name}"))
        warm, direct = statistics.median(uploads), statistics.median(directs)
    except BaseException:
        cloud.stop()
        raise
    return cloud, {"ready": ready, "deploy": deploy, "upload_cold": cold, "upload_warm": warm, "direct_warm": direct}


def moto_peer(ws: Workspace, settings: Settings) -> list[float]:
    """Seconds from spawn to ready of moto's bare threaded server, ``settings.startup_cycles`` times."""
    from sfn_workbench.procs import free_port

    times = []
    for i in range(settings.startup_cycles):
        ready = ws.root / f"moto-peer-{i}.ready"
        log = ws.log(f"moto-peer-{i}")
        started = time.monotonic()
        with log.open("wb") as out:
            process = subprocess.Popen(
                [ws.python(), str(PROBES / "moto_peer.py"), str(free_port()), str(ready)],
                env=base_env(), stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
            )  # fmt: skip
        try:
            deadline = started + 30
            while not ready.exists():
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"moto peer did not start:\n{tail(log)}")
                time.sleep(0.05)  # control.start polls its ready file every 50 ms too
            times.append(time.monotonic() - started)
        finally:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
    return times


def summarise(cycles: list[dict[str, float]], peer: list[float]) -> dict[str, Any]:
    figures = {k: summary([c[k] for c in cycles], "s") for k in cycles[0]}
    return {
        "status": "ok",
        "cycles": len(cycles),
        **figures,
        "moto_peer_ready": summary(peer, "s"),
        "ratios": {
            "ready_over_target": ratio(figures["ready"]["median"], READY_TARGET_S),
            "ready_over_moto_peer": ratio(figures["ready"]["median"], summary(peer, "s")["median"]),
            "upload_warm_over_direct_warm": ratio(figures["upload_warm"]["median"], figures["direct_warm"]["median"]),
            "deploy_over_ready": ratio(figures["deploy"]["median"], figures["ready"]["median"]),
            "upload_cold_over_upload_warm": ratio(figures["upload_cold"]["median"], figures["upload_warm"]["median"]),
        },
        "target_s": READY_TARGET_S,
    }
