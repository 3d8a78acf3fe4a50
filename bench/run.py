"""``make bench``: every measure of issues 7 and 13, written to bench/results/latest.{json,md}.

    .venv/bin/python -m bench.run [--quick] [--out-dir DIR] [--skip-tf] [--skip-package]

Everything runs under one temporary directory (the local clouds' state included)
and every local cloud started here is stopped before the run ends. A measure that
fails is recorded as an error and the others still run: benchmarks report, they
do not pass or fail.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
import traceback
from collections.abc import Callable
from importlib import metadata
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a script: `python bench/run.py`
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench import (
    batch_keys,
    coldstart,
    http_api,
    models,
    package,
    pipeline,
    reliability,
    report,
    server_cost,
    startup,
    warm,
)
from bench.common import ROOT, TRAIN_PYTHON, Settings
from bench.workspace import IMAGE, Workspace, cpu_count

SECTIONS = (
    "cold_start",
    "warm",
    "pipeline",
    "batch_keys",
    "server_cost",
    "package",
    "startup",
    "http",
    "models",
    "reliability",
)


def machine() -> dict[str, Any]:
    cpu = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if "model name" in line
        ),
        platform.processor() or "unknown",
    )
    mem_kb = next(int(line.split()[1]) for line in Path("/proc/meminfo").read_text().splitlines() if "MemTotal" in line)
    return {
        "cpu_model": cpu,
        "cores": os.cpu_count(),
        "affinity": cpu_count(),
        "memory_gb": mem_kb / 1024 / 1024,
        "python": platform.python_version(),
        "python_executable": sys.executable,
        "platform": platform.platform(),
        "litert": metadata.version("ai-edge-litert"),
        "tensorflow": _train_version(),
        "loadavg_start": " ".join(f"{x:.2f}" for x in os.getloadavg()),
        "commit": _git("rev-parse", "--short", "HEAD") + ("-dirty" if _git("status", "--porcelain") else ""),
    }


def _git(*args: str) -> str:
    try:
        return subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True, check=False).stdout.strip()
    except OSError:
        return "unknown"


def _train_version() -> str | None:
    if not TRAIN_PYTHON.exists():
        return None
    code = "from importlib.metadata import version; print(version('tensorflow-cpu'))"
    done = subprocess.run([str(TRAIN_PYTHON), "-c", code], capture_output=True, text=True, check=False)
    return done.stdout.strip() or None


def guarded(name: str, timings: dict[str, float], fn: Callable[[], dict[str, Any]]) -> dict[str, Any]:
    """Run one measure; an exception becomes its recorded error, not the end of the run."""
    print(f"[bench] {name} ...", file=sys.stderr, flush=True)
    started = time.monotonic()
    try:
        return fn()
    except Exception as exc:
        trace = traceback.format_exc(limit=4)
        print(trace, file=sys.stderr)
        return {"status": "error", "reason": f"{type(exc).__name__}: {exc}"[:600], "traceback": trace[-2000:]}
    finally:
        timings[name] = time.monotonic() - started
        print(f"[bench] {name} done in {timings[name]:.1f} s", file=sys.stderr, flush=True)


def run(settings: Settings, scratch: Path) -> dict[str, Any]:
    started = time.monotonic()
    results: dict[str, Any] = {
        "schema": 1,
        "generated": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "quick": settings.quick,
        "settings": settings.__dict__,
        "machine": machine(),
    }
    timings: dict[str, float] = {}
    ws = Workspace.create(scratch)

    # The package first: the cold start runs classify from the artifact it builds, as shipped.
    results["package"] = guarded("package size", timings, lambda: package.measure(ws, settings))
    results["cold_start"] = guarded("cold start", timings, lambda: coldstart.measure(ws, settings))
    results["models"] = guarded("FordA and Iris functions", timings, lambda: models.measure(ws, settings))

    peer: list[float] = []
    cycles: list[dict[str, float]] = []

    def moto_peer() -> dict[str, Any]:
        peer.extend(startup.moto_peer(ws, settings))
        return {"status": "ok"}

    peer_error = guarded("moto peer start-up", timings, moto_peer)
    cloud_box: list[Any] = []

    def first_cycle() -> dict[str, Any]:
        cloud, figures = startup.cycle(scratch / "clouds" / "main")
        cloud_box.append(cloud)
        cycles.append(figures)
        return {"status": "ok"}

    main_cloud = guarded("local cloud up, deploy, first uploads", timings, first_cycle)
    if cloud_box:
        cloud = cloud_box[0]
        try:
            outputs = cloud.stack("sfn-inference")["outputs"]
            results["warm"] = guarded(
                "warm per-image", timings, lambda: warm.measure(ws, settings, cloud, outputs["ClassifyFunctionName"])
            )
            if results["cold_start"].get("status") == "ok":
                results["cold_start"]["as_deployed"] = guarded(
                    "cold start as deployed", timings, lambda: _cold_as_deployed(ws, settings, cloud, outputs)
                )
                results["cold_start"]["ratios"]["s3_capture_over_classify"] = results["cold_start"]["as_deployed"].get(
                    "ratio_over_peer"
                )
            results["pipeline"] = guarded("pipeline throughput", timings, lambda: pipeline.measure(ws, settings, cloud))
            results["batch_keys"] = guarded(
                f"batch of {batch_keys.KEYS:,} keys", timings, lambda: batch_keys.measure(settings, cloud)
            )
            results["http"] = guarded("HTTP API", timings, lambda: http_api.measure(ws, settings, cloud))
        finally:
            workers = _children(cloud.pid)
            stopping = time.monotonic()
            cloud.stop()
            teardown = {"seconds": time.monotonic() - stopping, "workers": workers}
    else:
        failed = {"status": "error", "reason": main_cloud.get("reason", "")}
        results["warm"] = results["pipeline"] = results["batch_keys"] = results["http"] = failed

    def more_cycles() -> dict[str, Any]:
        for i in range(1, settings.startup_cycles):
            cloud, figures = startup.cycle(scratch / "clouds" / f"cycle-{i}")
            cloud.stop()
            cycles.append(figures)
        return {"status": "ok"}

    # After the main cloud stopped: these clouds differ only in their speed levers, and share the machine with no other.
    results["server_cost"] = guarded(
        "server CPU and the client ceiling", timings, lambda: server_cost.measure(settings, scratch)
    )
    extra = guarded("local cloud start-up cycles", timings, more_cycles)
    results["reliability"] = guarded("nothing lost", timings, lambda: reliability.measure(settings, scratch))
    if cycles and peer:
        results["startup"] = startup.summarise(cycles, peer)
        if cloud_box:
            results["startup"]["teardown"] = teardown
        if extra.get("status") != "ok":
            results["startup"]["incomplete"] = extra.get("reason")
    else:
        failed = next((r for r in (main_cloud, peer_error, extra) if r.get("status") == "error"), {})
        results["startup"] = {"status": "error", "reason": failed.get("reason", "no start-up cycle completed")}

    results["machine"]["loadavg_end"] = " ".join(f"{x:.2f}" for x in os.getloadavg())
    results["section_seconds"] = timings
    results["duration_s"] = time.monotonic() - started
    _, results["targets"] = report.rows_and_targets(results)
    return results


def _children(pid: int) -> int:
    """The server's child processes (its warm Lambda workers, and endpoint servers if any)."""
    children: set[str] = set()
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            children |= set((task / "children").read_text().split())
        except OSError:
            continue
    return len(children)


def _cold_as_deployed(ws: Workspace, settings: Settings, cloud: Any, outputs: dict[str, Any]) -> dict[str, Any]:
    """classify's cold start with the deployed function's variables: capture to s3:// on the local cloud."""
    config = cloud.client("lambda").get_function_configuration(FunctionName=outputs["ClassifyFunctionName"])
    bucket, key = outputs["BucketName"], "test/bench/reference.png"
    cloud.client("s3").put_object(Bucket=bucket, Key=key, Body=IMAGE.read_bytes())
    reference = ws.root / "event-reference.json"  # what serialize sends for an image too large to inline
    reference.write_text(json.dumps({"s3_bucket": bucket, "s3_key": key, "content_type": "image/png",
                                     "transport": "reference", "size_bytes": IMAGE.stat().st_size}))  # fmt: skip
    result: dict[str, Any] = coldstart.measure_as_deployed(
        ws, config["Environment"]["Variables"], cloud.ctx.aws_env(), settings, reference
    )
    return {"status": "ok", **result}


def write(results: dict[str, Any], out_dir: Path) -> str:
    out_dir.mkdir(parents=True, exist_ok=True)
    text = report.markdown(results)
    for name, body in (("latest.json", json.dumps(results, indent=2, default=str) + "\n"), ("latest.md", text)):
        partial = out_dir / f"{name}.tmp"  # then rename: a reader never sees half a file
        partial.write_text(body)
        partial.replace(out_dir / name)
    return text


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.run", description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="one repetition, tiny counts (the smoke test)")
    parser.add_argument("--out-dir", type=Path, default=ROOT / "bench" / "results")
    parser.add_argument("--skip-tf", action="store_true", help="leave out the TensorFlow route")
    parser.add_argument("--skip-package", action="store_true", help="do not build the Lambda artifacts")
    args = parser.parse_args(argv)
    settings = Settings.make(args.quick, skip_tf=args.skip_tf, skip_package=args.skip_package)
    with tempfile.TemporaryDirectory(prefix="sfn-bench-") as scratch:
        results = run(settings, Path(scratch))
    print(write(results, args.out_dir))
    print(f"wrote {args.out_dir / 'latest.json'} and latest.md in {results['duration_s']:.0f} s", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
