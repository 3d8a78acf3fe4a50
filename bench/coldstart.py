"""Measure 1: a fresh process from spawn to its first prediction, three routes side by side.

classify is the handler as the local cloud deploys it; ``bare`` is the floor (numpy and
LiteRT, load, one invoke); ``tf`` is the course projects' route, the same flatbuffer
through TensorFlow's ``tf.lite.Interpreter``. Runs are interleaved round-robin so drift
on a shared machine hits every route alike, after one discarded run each to warm the
page cache (every route then reads its libraries from memory, as a warm host would).
"""

from __future__ import annotations

import json
import shutil
import sys
from collections import defaultdict
from pathlib import Path
from typing import Any

from bench.common import BUNDLE, PROBES, TRAIN_PYTHON, Settings, ratio, run_measured, summary, tail
from bench.workspace import LABEL, Workspace

PHASES = ("interpreter", "import", "model_load", "first_prediction", "total")
PROBE = PROBES / "cold_start.py"


def _command(
    ws: Workspace,
    route: str,
    result: Path,
    python_flags: tuple[str, ...] = (),
    python: str | None = None,
    event: Path | None = None,
) -> list[str]:
    if route == "classify":
        return [
            python or ws.python(),
            *python_flags,
            str(PROBE),
            route,
            str(result),
            str(event or ws.event_path),
            LABEL,
        ]
    if route == "job":
        model = str(BUNDLE / "model.tflite")
        return [python or ws.python(), *python_flags, str(PROBE), route, str(result), str(ws.event_path), LABEL, model]
    python = str(TRAIN_PYTHON) if route == "tf" else ws.python()
    model = str(BUNDLE / "model.tflite")
    return [python, *python_flags, str(PROBE), route, str(result), str(ws.tensor_path), LABEL, model]


def run_once(ws: Workspace, route: str, env: dict[str, str], tag: str, event: Path | None = None) -> dict[str, Any]:
    """One fresh process; its phases in seconds, its peak RSS in MB. ``SHIPPED_PYTHON`` in ``env``
    runs it on that interpreter (``-S``: only PYTHONPATH), in the artifact named by LAMBDA_TASK_ROOT."""
    result = ws.root / f"cold-{tag}.json"
    result.unlink(missing_ok=True)
    log = ws.log(f"cold-{tag}")
    python = env.get("SHIPPED_PYTHON")
    command = _command(ws, route, result, ("-S",) if python else (), python, event)
    cwd = Path(env.get("LAMBDA_TASK_ROOT", ws.task_root))
    measured, spawned = run_measured(command, env=env, cwd=cwd, log=log, timeout_s=120)
    if measured.returncode != 0 or not result.exists():
        raise RuntimeError(f"cold start {tag} exited {measured.returncode}:\n{tail(log)}")
    r = json.loads(result.read_text())
    return {
        "interpreter": r["t_main"] - spawned,
        "import": r["t_imported"] - r["t_main"],
        "model_load": r["t_loaded"] - r["t_imported"],
        "first_prediction": r["t_predicted"] - r["t_loaded"],
        "total": r["t_predicted"] - spawned,
        "exit": measured.wall_s,
        # At the first prediction (VmHWM then), and over the process's life (wait4), which
        # includes what runs at exit: the capture writer flushes its buffer then.
        "peak_rss_mb": r["vm_hwm_kb"] / 1024,
        "peak_rss_lifetime_mb": measured.maxrss_mb,
        "heavy_modules": r["heavy_modules"],
        "modules": r["modules"],
    }


def measure_routes(
    ws: Workspace, routes: dict[str, dict[str, str]], settings: Settings, events: dict[str, Path] | None = None
) -> dict[str, Any]:
    """Round-robin runs of each route (name -> environment, and its event when not the inline
    payload); per route, a summary of each phase."""
    events = events or {}
    samples: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for name, env in routes.items():
        run_once(ws, _route(name), env, f"{name}-warmup", events.get(name))
    for i in range(settings.repeats):
        for name, env in routes.items():
            samples[name].append(run_once(ws, _route(name), env, f"{name}-{i}", events.get(name)))
    out: dict[str, Any] = {}
    for name, runs in samples.items():
        out[name] = {
            "phases": {p: summary([r[p] for r in runs], "s") for p in PHASES},
            "peak_rss_mb": summary([r["peak_rss_mb"] for r in runs], "MB"),
            "peak_rss_lifetime_mb": summary([r["peak_rss_lifetime_mb"] for r in runs], "MB"),
            "heavy_modules": sorted({m for r in runs for m in r["heavy_modules"]}),
            "modules": runs[-1]["modules"],
        }
    return out


def _route(name: str) -> str:
    return name.split(":")[0]


def shipped_routes(ws: Workspace, artifact: Path, python: str) -> dict[str, dict[str, str]]:
    """classify from the real artifact on the target Python, as Lambda runs it (read-only task root:
    PYTHONDONTWRITEBYTECODE), with its bytecode and without; the bare job script on the same libraries."""
    bare_copy = ws.root / "shipped-without-bytecode"
    if not bare_copy.exists():
        shutil.copytree(artifact, bare_copy, ignore=shutil.ignore_patterns("__pycache__"))
    provided = ws.root / "lambda-runtime"
    if not provided.exists():
        from sfn_workbench.build import _link_lambda_provided

        _link_lambda_provided(provided)

    def env(task: Path, base: dict[str, str]) -> dict[str, str]:
        return base | {
            "LAMBDA_TASK_ROOT": str(task),
            "PYTHONPATH": f"{task}:{provided}",
            "PYTHONDONTWRITEBYTECODE": "1",
            "SHIPPED_PYTHON": python,
        }

    return {
        "classify:shipped": env(artifact, ws.classify_env()),
        "job:shipped": env(artifact, ws.lambda_env({})),
        "classify:no-bytecode": env(bare_copy, ws.classify_env()),
    }


def measure(ws: Workspace, settings: Settings) -> dict[str, Any]:
    routes: dict[str, dict[str, str]] = {"classify": ws.classify_env(), "bare": ws.lambda_env({})}
    artifact = ws.root / "build" / "classify"
    from sfn_workbench.build import find_python

    python = find_python("3.12")
    if artifact.is_dir() and python:
        routes |= shipped_routes(ws, artifact, python)
    skipped: dict[str, str] = {}
    if settings.with_tf:
        routes["tf"] = ws.lambda_env({"TF_CPP_MIN_LOG_LEVEL": "2"})  # quiet, as a course notebook is not
    else:
        skipped["tf"] = (
            f"{TRAIN_PYTHON} is absent (`make .venv-train/.installed` creates it)"
            if not TRAIN_PYTHON.exists()
            else "--skip-tf"
        )
    out = measure_routes(ws, routes, settings)
    results: dict[str, Any] = {"status": "ok", "routes": out, "skipped": skipped}
    total = {name: out[name]["phases"]["total"]["median"] for name in out}
    rss = {name: out[name]["peak_rss_mb"]["median"] for name in out}
    shipped = {k: total.get(k) for k in ("classify:shipped", "job:shipped", "classify:no-bytecode")}
    results["shipped"] = {
        "python": python,
        "artifact": str(artifact) if artifact.is_dir() else None,
        "classify_over_job": ratio(shipped["classify:shipped"], shipped["job:shipped"]),
        "no_bytecode_over_shipped": ratio(shipped["classify:no-bytecode"], shipped["classify:shipped"]),
    }
    results["ratios"] = {
        "tf_over_classify": ratio(total.get("tf"), total["classify"]),
        "classify_over_bare": ratio(total["classify"], total["bare"]),
        "rss_tf_over_classify": ratio(rss.get("tf"), rss["classify"]),
        "rss_classify_over_bare": ratio(rss["classify"], rss["bare"]),
    }
    results["import_profile"] = import_profile(ws)
    results["keras"] = (
        "the bundle keeps no Keras model (models/digits has model.tflite only), so that route is not measured"
    )
    return results


def measure_as_deployed(
    ws: Workspace, function_env: dict[str, str], aws_env: dict[str, str], settings: Settings, reference: Path
) -> Any:
    """classify with the deployed function's variables (capture to S3 on the local cloud),
    interleaved with the local-dir classify again: its peer under the same load. And with a
    ``reference`` payload (an image too large to inline, read from S3 by classify): INIT leaves
    boto3 out, so that first invocation imports it, shown against the inline one."""
    deployed_env = ws.lambda_env(function_env, aws_env)
    routes = {"classify:s3-capture": deployed_env, "classify": ws.classify_env(), "classify:reference": deployed_env}
    out = measure_routes(ws, routes, settings, events={"classify:reference": reference})
    deployed, peer = out["classify:s3-capture"], out["classify"]
    deployed["peer_total"] = peer["phases"]["total"]
    deployed["ratio_over_peer"] = ratio(deployed["phases"]["total"]["median"], peer["phases"]["total"]["median"])
    deployed["reference_first_prediction"] = out["classify:reference"]["phases"]["first_prediction"]
    return deployed


def import_profile(ws: Workspace, top: int = 8) -> dict[str, Any]:
    """``python -X importtime`` over classify's whole cold start (lazy imports of the first call
    included), self time summed per top-level package; the standard library as one entry."""
    result = ws.root / "cold-importtime.json"
    log = ws.log("cold-importtime")
    log.unlink(missing_ok=True)
    command = _command(ws, "classify", result, ("-X", "importtime"))
    measured, _ = run_measured(command, env=ws.classify_env(), cwd=ws.task_root, log=log, timeout_s=120)
    if measured.returncode != 0:
        raise RuntimeError(f"importtime run exited {measured.returncode}:\n{tail(log)}")
    by_package: dict[str, float] = defaultdict(float)
    modules: dict[str, float] = {}
    for line in log.read_text(errors="replace").splitlines():
        if not line.startswith("import time:") or "imported package" in line:
            continue
        self_us, cumulative_us, name = line.removeprefix("import time:").split("|", 2)
        module = name.strip()
        package = module.split(".")[0]
        if package in sys.stdlib_module_names or package.startswith("_"):
            package = "(stdlib)"
        by_package[package] += int(self_us) / 1000
        modules[module] = int(cumulative_us) / 1000
    ranked = sorted(by_package.items(), key=lambda kv: -kv[1])
    return {
        "total_ms": sum(by_package.values()),
        "by_package_ms": [{"package": p, "ms": round(ms, 1)} for p, ms in ranked[:top]],
        "boto3_imported": "boto3" in by_package,
        "botocore_imported": "botocore" in by_package,
        "botocore_ms": round(by_package.get("botocore", 0.0), 1),
        "handler_module_cumulative_ms": modules.get("app"),
        "note": "-X importtime inflates every import a little; use it for shares, the phases for time",
    }
