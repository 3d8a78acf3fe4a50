"""Issue 15.4: the moto server's own cost, against itself without its speed levers and
against the functions driven by a client.

* Server CPU per execution: fresh local clouds that differ only in ``SFN_LOCALCLOUD_SPEEDUPS``
  (every lever, and the levers of the server issue 15 measured: "today's") run the same
  executions, round after round, interleaved. The figure is the server process's own CPU
  time (``/proc/<pid>/stat``: user + system; its Lambda workers are other processes) over
  the executions of a round.
* Executions per second against a client-driven ceiling: on the cloud with every lever,
  serialize -> classify -> filter invoked directly by boto3 (each response's payload is the
  next request's, as the pipeline's states pass it), from as many threads as there are
  executions in flight, with no ASL: what the executions would reach if Step Functions cost
  nothing.
"""

from __future__ import annotations

import json
import os
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from bench.common import Settings, ratio, summary
from bench.pipeline import run_executions, seed
from sfn_workbench.localcloud.levers import ISSUE_15_BASELINE

#: The server configurations compared, by ``SFN_LOCALCLOUD_SPEEDUPS`` value (moto with no lever at
#: all, ``none``, spends about 3x "all": left out, it would add a minute to the bench).
CONFIGS = {"all": "all", "issue_15": ISSUE_15_BASELINE}
FUNCTIONS = ("SerializeFunctionName", "ClassifyFunctionName", "FilterFunctionName")
#: Executions in flight in a round, and the client threads of the ceiling: the pool's 4 workers
#: per function, twice over, so that neither side waits on an idle worker.
IN_FLIGHT = 8


def process_cpu_s(pid: int) -> float:
    """User + system CPU seconds of one process (not its children)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def start(state_dir: Path, speedups: str) -> Any:
    """A fresh server with these levers (not deployed yet)."""
    from sfn_workbench.localcloud import control, levers

    previous = os.environ.get(levers.VARIABLE)
    os.environ[levers.VARIABLE] = speedups  # the server process reads it at start
    try:
        cloud = control.start(state_dir)
    finally:
        if previous is None:
            os.environ.pop(levers.VARIABLE, None)
        else:
            os.environ[levers.VARIABLE] = previous
    return cloud


def executions_round(cloud: Any, keys: list[str], count: int) -> dict[str, Any]:
    """``count`` executions, ``IN_FLIGHT`` at a time; the server's CPU over all of them, and their rate
    from their own start and stop dates (the polling between groups is not counted)."""
    outputs = cloud.stack("sfn-inference")["outputs"]
    before = process_cpu_s(cloud.pid)
    runs = [
        run_executions(cloud, outputs["StateMachineArn"], outputs["BucketName"], keys, IN_FLIGHT, 120)
        for _ in range(max(1, count // IN_FLIGHT))
    ]
    cpu = process_cpu_s(cloud.pid) - before
    done = sum(r["executions"] for r in runs)
    failed = sum(n for r in runs for status, n in r["statuses"].items() if status != "SUCCEEDED")
    if failed:
        raise RuntimeError(f"{failed} of {done} executions did not succeed: {[r['statuses'] for r in runs]}")
    return {"cpu_per_execution_s": cpu / done, "per_s": done / sum(r["span_s"] for r in runs)}


def client_chain(lam: Any, names: list[str], event: dict[str, Any]) -> None:
    payload: Any = event
    for name in names:
        response = lam.invoke(FunctionName=name, Payload=json.dumps(payload).encode())
        body = response["Payload"].read()
        if response.get("FunctionError"):
            raise RuntimeError(f"{name}: {body[:300]!r}")
        payload = json.loads(body)


def client_round(cloud: Any, keys: list[str], count: int) -> float:
    """Chains per second, ``IN_FLIGHT`` client threads, the same images as the executions."""
    outputs = cloud.stack("sfn-inference")["outputs"]
    names = [outputs[f] for f in FUNCTIONS]
    lam = cloud.client("lambda")
    events = [{"s3_bucket": outputs["BucketName"], "s3_key": keys[i % len(keys)]} for i in range(count)]
    started = time.monotonic()
    with ThreadPoolExecutor(IN_FLIGHT) as pool:
        list(pool.map(lambda event: client_chain(lam, names, event), events))
    return count / (time.monotonic() - started)


def measure(settings: Settings, scratch: Path) -> dict[str, Any]:
    if settings.quick:
        return {"status": "skipped", "reason": "--quick does not start and deploy two more clouds (25 s)"}
    count, rounds = 40, 3
    clouds: dict[str, Any] = {}
    try:
        for name, speedups in CONFIGS.items():
            clouds[name] = start(scratch / "clouds" / f"levers-{name}", speedups)
        with ThreadPoolExecutor(len(clouds)) as pool:  # the deploys, the bulk of the time, at once
            list(pool.map(lambda cloud: cloud.deploy("litert"), clouds.values()))
        keys: dict[str, list[str]] = {}
        for name, cloud in clouds.items():
            bucket = cloud.stack("sfn-inference")["outputs"]["BucketName"]
            keys[name] = seed(cloud, bucket, "test/levers/")
            executions_round(cloud, keys[name], IN_FLIGHT)  # warm-up: every pool's workers started
        client_round(clouds["all"], keys["all"], IN_FLIGHT)
        samples: dict[str, list[dict[str, Any]]] = {name: [] for name in clouds}
        ceiling: list[float] = []
        for _ in range(rounds):  # interleaved: a slower minute of the machine touches every configuration
            for name, cloud in clouds.items():
                samples[name].append(executions_round(cloud, keys[name], count))
            ceiling.append(client_round(clouds["all"], keys["all"], count))
    finally:
        for cloud in clouds.values():
            cloud.stop()
    cpu = {name: summary([s["cpu_per_execution_s"] for s in runs], "s") for name, runs in samples.items()}
    per_s = {name: summary([s["per_s"] for s in runs], "executions/s") for name, runs in samples.items()}
    client = summary(ceiling, "chains/s")
    return {
        "status": "ok",
        "executions_per_round": count,
        "in_flight": IN_FLIGHT,
        "configs": CONFIGS,
        "server_cpu_per_execution": cpu,
        "executions_per_s": per_s,
        "client_ceiling_per_s": client,
        "ratios": {
            "cpu_all_over_issue_15": ratio(cpu["all"]["median"], cpu["issue_15"]["median"]),
            "executions_over_ceiling": ratio(per_s["all"]["median"], client["median"]),
            "issue_15_executions_over_ceiling": ratio(per_s["issue_15"]["median"], client["median"]),
        },
    }
