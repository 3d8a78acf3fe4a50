"""The FordA and Iris functions (issue 13): cold start, warm per-request cost, artifact sizes.

- Cold start: a fresh process from spawn to the first answer of each function as the
  local cloud deploys it (the packaging step's layout, the template's variables, capture
  on to a local directory), next to a bare script that only imports numpy and the
  function's runtime, loads the same model and runs the same input once. Round-robin,
  after one discarded run of each, as measure 1 does.
- Warm: one process per function; FordA at N = 1 and N = 64 series and Iris at one record
  (POST and GET), each through the whole handler (an HTTP API event in: JSON parsing,
  validation, z-normalisation, the invoke, the capture record, the JSON answer) next to
  the raw runtime call on that request's own tensor, interleaved in the same process.
- Sizes: the artifacts ``make package`` builds (this run's package measure), against the
  issue's 100 MB budget; skipped when that measure did not run (``--quick``).
"""

from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path
from typing import Any

import numpy as np

from bench.common import PROBES, ROOT, Settings, ratio, run_measured, summary, tail
from bench.workspace import Workspace

PROBE = PROBES / "model_function.py"
MIB = 1_048_576
BUDGET_BYTES = 100 * MIB
FUNCTIONS = ("forda", "iris")
FORDA = ROOT / "models" / "forda"
IRIS = ROOT / "models" / "iris"
#: Top-level packages whose presence in an artifact the size table reports.
SCANNED = ("ai_edge_litert", "onnxruntime", "PIL", "sklearn", "scipy", "tensorflow")
SEED_IRIS = {"sl": 6.9, "sw": 3.1, "pl": 5.1, "pw": 2.3}


def _reference_series() -> list[list[float]]:
    return [r["series"] for r in json.loads((FORDA / "reference" / "series.json").read_text())]


def http_event(method: str, body: Any = None, query: dict[str, str] | None = None) -> dict[str, Any]:
    event: dict[str, Any] = {
        "version": "2.0",
        "requestContext": {"http": {"method": method}},
        "headers": {"content-type": "application/json"},
        "isBase64Encoded": False,
    }
    if body is not None:
        event["body"] = json.dumps(body)
    if query is not None:
        event["queryStringParameters"] = query
    return event


def forda_cases(sizes: tuple[int, ...] = (1, 64)) -> dict[str, Any]:
    from sfn_inference.core.series import znormalise

    series = _reference_series()
    cases = {}
    for n in sizes:
        batch = [series[i % len(series)] for i in range(n)]
        tensor = znormalise(np.array(batch))[..., None]
        cases[f"n{n}"] = {"event": http_event("POST", {"items": batch}), "tensor": tensor.tolist()}
    return cases


def iris_cases() -> dict[str, Any]:
    tensor = [[SEED_IRIS[k] for k in ("sl", "sw", "pl", "pw")]]
    query = {k: str(v) for k, v in SEED_IRIS.items()}
    return {
        "post": {"event": http_event("POST", SEED_IRIS), "tensor": tensor},
        "get": {"event": http_event("GET", query=query), "tensor": tensor},
    }


class ModelWorkspace:
    """Task roots, events and inputs of the two functions under the bench's scratch directory."""

    def __init__(self, ws: Workspace) -> None:
        from sfn_workbench.build import build_function

        self.ws = ws
        self.root = ws.root / "models-bench"
        self.root.mkdir(parents=True, exist_ok=True)
        for function in FUNCTIONS:
            build_function(function, self.task_root(function), with_deps=False)
        series = _reference_series()
        (self.root / "forda-event.json").write_text(json.dumps(http_event("POST", {"items": [series[3]]})))
        (self.root / "iris-event.json").write_text(json.dumps(http_event("POST", SEED_IRIS)))
        from sfn_inference.core.series import znormalise

        np.save(self.root / "forda-input.npy", znormalise(np.array([series[3]]))[..., None])
        np.save(self.root / "iris-input.npy", np.array([[6.9, 3.1, 5.1, 2.3]], dtype=np.float32))

    def task_root(self, function: str) -> Path:
        return self.root / "task" / function

    def env(self, function: str) -> dict[str, str]:
        """The template's variables for the function, capture to a local directory."""
        task = str(self.task_root(function))
        variables = {
            "POWERTOOLS_SERVICE_NAME": "sfn-inference",
            "POWERTOOLS_LOG_LEVEL": "INFO",
            "POWERTOOLS_METRICS_NAMESPACE": "SfnInference",
            "MODEL_DIR": f"models/{function}",
            "NUM_THREADS": "1",
            "CAPTURE_DESTINATION_S3_URI": (self.ws.captures / function).as_uri(),
            "CAPTURE_SAMPLING_PERCENTAGE": "100",
            "CAPTURE_ENDPOINT_NAME": f"sfn-inference-{function}",
        }
        if function == "forda":
            variables["MAX_SERIES_PER_REQUEST"] = "256"
        env = self.ws.lambda_env(variables)
        return {**env, "LAMBDA_TASK_ROOT": task, "PYTHONPATH": task, "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "1024"}

    def command(self, route: str, function: str, result: Path) -> list[str]:
        if route == "handler":
            return [
                self.ws.python(),
                str(PROBE),
                "cold",
                function,
                str(result),
                str(self.root / f"{function}-event.json"),
            ]
        model = FORDA / "model.tflite" if function == "forda" else IRIS / "model.onnx"
        inputs = self.root / f"{function}-input.npy"
        return [self.ws.python(), str(PROBE), "bare", function, str(result), str(inputs), str(model)]


def _run(mws: ModelWorkspace, command: list[str], env: dict[str, str], cwd: Path, tag: str) -> dict[str, Any]:
    result = mws.root / f"{tag}.json"
    result.unlink(missing_ok=True)
    log = mws.ws.log(f"models-{tag}")
    measured, spawned = run_measured(command, env=env, cwd=cwd, log=log, timeout_s=300)
    if measured.returncode != 0 or not result.exists():
        raise RuntimeError(f"{tag} exited {measured.returncode}:\n{tail(log)}")
    data: dict[str, Any] = json.loads(result.read_text())
    data["spawned"] = spawned
    return data


def cold_start(mws: ModelWorkspace, settings: Settings) -> dict[str, Any]:
    routes = [(route, function) for function in FUNCTIONS for route in ("handler", "bare")]
    samples: dict[tuple[str, str], list[dict[str, float]]] = defaultdict(list)
    modules: dict[str, list[str]] = {}
    for i in range(settings.repeats + 1):  # the first round is discarded: a warm page cache for all
        for route, function in routes:
            tag = f"cold-{function}-{route}-{i}"
            env = mws.env(function) if route == "handler" else mws.ws.lambda_env({})
            r = _run(mws, mws.command(route, function, mws.root / f"{tag}.json"), env, mws.task_root(function), tag)
            _check_answer(function, route, r["answer"])
            if i == 0:
                continue
            samples[(route, function)].append(
                {
                    "total": r["t_predicted"] - r["spawned"],
                    "interpreter": r["t_main"] - r["spawned"],
                    "import_and_load": r["t_imported"] - r["t_main"]
                    if route == "handler"
                    else r["t_loaded"] - r["t_main"],
                    "first_answer": r["t_predicted"] - r["t_imported"]
                    if route == "handler"
                    else r["t_predicted"] - r["t_loaded"],
                    "peak_rss_mb": r["vm_hwm_kb"] / 1024,
                }
            )
            modules[f"{function}:{route}"] = r["modules"]
    out: dict[str, Any] = {}
    for function in FUNCTIONS:
        entry: dict[str, Any] = {}
        for route in ("handler", "bare"):
            runs = samples[(route, function)]
            entry[route] = {k: summary([r[k] for r in runs], "MB" if k == "peak_rss_mb" else "s") for k in runs[0]}
        entry["handler_over_bare"] = ratio(entry["handler"]["total"]["median"], entry["bare"]["total"]["median"])
        handler_modules = set(modules[f"{function}:handler"])
        entry["not_imported"] = sorted(
            {"PIL", "boto3", "botocore", "onnxruntime" if function == "forda" else "ai_edge_litert"} - handler_modules
        )
        out[function] = entry
    return out


def _check_answer(function: str, route: str, answer: Any) -> None:
    """Each cold run must give the right answer: the reference series' class, the seed's label."""
    if route == "bare":
        best = int(np.argmax(answer))
        if best != (1 if function == "forda" else 2):
            raise RuntimeError(f"{function} bare answered {answer}")
        return
    body = json.loads(answer["body"])
    if answer["statusCode"] != 200 or (body != "virginica" if function == "iris" else body["result"]["Class"] != 1):
        raise RuntimeError(f"{function} answered {answer}")


def warm(mws: ModelWorkspace, settings: Settings) -> dict[str, Any]:
    """Per request, with the capture recorder (the template's 100 % sampling) and without it,
    interleaved with the raw runtime call in one process: each series' capture record
    re-encodes it as JSON, a cost that grows with N."""
    out: dict[str, Any] = {}
    for function, cases in (("forda", forda_cases()), ("iris", iris_cases())):
        tag = f"warm-{function}"
        events = mws.root / f"{tag}-events.json"
        events.write_text(json.dumps(cases))
        command = [
            mws.ws.python(), str(PROBE), "warm", function, str(mws.root / f"{tag}.json"), str(events),
            str(settings.block_s), str(settings.repeats),
        ]  # fmt: skip
        per_call = _run(mws, command, mws.env(function), mws.task_root(function), tag)["per_call_s"]
        entry: dict[str, Any] = {}
        for case in cases:
            handler, raw = summary(per_call[f"handler:{case}"], "s"), summary(per_call[f"raw:{case}"], "s")
            entry[case] = {
                "handler": handler,
                "handler_no_capture": summary(per_call[f"nocapture:{case}"], "s"),
                "raw": raw,
                "handler_over_raw": ratio(handler["median"], raw["median"]),
            }
        if function == "forda":
            for case, n in (("n1", 1), ("n64", 64)):
                entry[case]["handler_per_series"] = entry[case]["handler"]["median"] / n
                entry[case]["raw_per_series"] = entry[case]["raw"]["median"] / n
        out[function] = entry
    return out


def sizes(ws: Workspace) -> dict[str, Any]:
    build = ws.root / "build"
    if not all((build / function).is_dir() for function in FUNCTIONS):
        return {
            "status": "skipped",
            "reason": "the package measure did not build the artifacts (--quick or --skip-package)",
        }
    out: dict[str, Any] = {"status": "ok", "budget_bytes": BUDGET_BYTES}
    for function in FUNCTIONS:
        artifact = build / function
        parts = sorted(
            ((p.name, p.stat().st_size if p.is_file() else _size(p)) for p in artifact.iterdir()), key=lambda kv: -kv[1]
        )
        zipped = build / f"{function}.zip"
        out[function] = {
            "unzipped_bytes": _size(artifact),
            "zipped_bytes": zipped.stat().st_size if zipped.exists() else None,
            "largest_parts_bytes": dict(parts[:6]),
            "holds": sorted(m for m in SCANNED if (artifact / m).exists()),
        }
        out[function]["of_budget"] = ratio(out[function]["unzipped_bytes"], BUDGET_BYTES)
    return out


def _size(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def measure(ws: Workspace, settings: Settings) -> dict[str, Any]:
    mws = ModelWorkspace(ws)
    return {"status": "ok", "cold_start": cold_start(mws, settings), "warm": warm(mws, settings), "sizes": sizes(ws)}
