"""Measure 6: the HTTP API. A warm round trip through the local API against a direct invoke of the
same function on the same cloud, and the HTTP functions' cold start against the bare LiteRT script.

Round trips: one keep-alive connection (``http.client``) POSTs what the tutorials' clients
POST (the PNG's bytes; ``{"url": ...}``); the direct path is boto3's ``lambda.invoke`` with the
tutorials' own events (the TFLite tutorial's base64 body; the course's ``{"url": ...}``).
Blocks of each alternate, so drift hits both alike. The fashion URL is ``s3://`` on the
local cloud, so both paths fetch the same object the same way.

Cold starts: the handler as the local cloud deploys it, in a fresh process, from spawn to the
answer to API Gateway's 2.0 event (the fashion one fetches its image from a loopback server
on its allow-list); the peer is the bare LiteRT script on the same model and image.
"""

from __future__ import annotations

import base64
import functools
import http.client
import json
import threading
import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from bench.common import BUNDLE, PROBES, ROOT, Settings, ratio, run_measured, summary, tail
from bench.workspace import Workspace

FASHION = ROOT / "models" / "fashion"
DIGIT_IMAGE = BUNDLE / "reference" / "0_00048.png"
FASHION_IMAGE = FASHION / "reference" / "trouser_00002.png"
#: The issue's target for the warm HTTP round trip, as a multiple of the direct invoke.
ROUND_TRIP_TARGET = 1.5
PHASES = ("interpreter", "import", "model_load", "first_prediction", "total")


# --- warm round trips --------------------------------------------------------------------------------
def _timed_block(call: Callable[[], None], settings: Settings) -> float:
    """Seconds per call over a block of at least ``2 * block_s`` (and 5 calls)."""
    call()  # untimed: the first call after switching paths
    calls, start = 0, time.perf_counter()
    while True:
        call()
        calls += 1
        elapsed = time.perf_counter() - start
        if (elapsed >= settings.block_s * 2 and calls >= 5) or calls >= 10_000:
            return elapsed / calls


def round_trips(cloud: Any, settings: Settings) -> dict[str, Any]:
    stack = cloud.stack("sfn-inference")
    outputs = stack["outputs"]
    base = urlsplit(cloud.api_url(stack["resources"]["HttpApi"]["ref"], "Prod"))
    bucket = outputs["BucketName"]
    cloud.client("s3").put_object(Bucket=bucket, Key="test/bench/trouser.png", Body=FASHION_IMAGE.read_bytes())
    url = {"url": f"s3://{bucket}/test/bench/trouser.png"}
    digit = DIGIT_IMAGE.read_bytes()
    tutorial = {
        "body": base64.b64encode(digit).decode(),
        "isBase64Encoded": True,
        "headers": {"Content-Type": "image/png"},
    }
    url_body = json.dumps(url).encode()
    cases = {
        "digits": ("/digits/predict", digit, "image/png", tutorial, outputs["DigitsFunctionName"], "0"),
        "fashion": ("/fashion/predict", url_body, "application/json", url, outputs["FashionFunctionName"], "trouser"),
    }
    client = cloud.client("lambda")
    connection = http.client.HTTPConnection(base.hostname or "127.0.0.1", base.port or 80, timeout=60)
    results: dict[str, Any] = {}
    try:
        for name, (route, body, content_type, event, function, label) in cases.items():

            def over_http(route: str = route, body: bytes = body, content_type: str = content_type) -> None:
                connection.request("POST", f"{base.path}{route}", body=body, headers={"Content-Type": content_type})
                response = connection.getresponse()
                answer = response.read()
                if response.status != 200:
                    raise RuntimeError(f"POST {route}: {response.status} {answer[:300]!r}")

            payload = json.dumps(event).encode()

            def direct(function: str = function, payload: bytes = payload, label: str = label) -> None:
                response = client.invoke(FunctionName=function, Payload=payload)
                answer = json.loads(response["Payload"].read())
                if response.get("FunctionError") or answer.get("label") != label:
                    raise RuntimeError(f"{function} answered {str(answer)[:300]}")

            samples: dict[str, list[float]] = defaultdict(list)
            for _ in range(settings.repeats):
                samples["http"].append(_timed_block(over_http, settings))
                samples["direct"].append(_timed_block(direct, settings))
            http_s, direct_s = summary(samples["http"], "s"), summary(samples["direct"], "s")
            results[name] = {
                "http": http_s,
                "direct": direct_s,
                "ratio": ratio(http_s["median"], direct_s["median"]),
                "route": route,
            }
    finally:
        connection.close()
    return results


# --- cold starts ---------------------------------------------------------------------------------------
@contextmanager
def _image_server(directory: Path) -> Iterator[str]:
    handler = functools.partial(_QuietHandler, directory=str(directory))
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, name="bench-images", daemon=True).start()
    try:
        yield f"127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


class _QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


def _http_event(route: str, body: bytes, content_type: str) -> dict[str, Any]:
    event: dict[str, Any] = json.loads((ROOT / "events" / "http_api_predict.json").read_text())
    event["routeKey"] = event["requestContext"]["routeKey"] = f"POST {route}"
    event["rawPath"] = event["requestContext"]["http"]["path"] = f"/Prod{route}"
    event["headers"]["content-type"] = content_type
    text = content_type == "application/json"
    event.update(body=body.decode() if text else base64.b64encode(body).decode(), isBase64Encoded=not text)
    return event


def _tensor(ws: Workspace, image: Path, bundle: Path) -> Path:
    import numpy as np

    from sfn_inference.core.bundle import ModelBundle
    from sfn_inference.core.imaging import image_to_tensor

    path = ws.root / f"tensor-{bundle.name}.npy"
    np.save(path, image_to_tensor(image.read_bytes(), ModelBundle(bundle).preprocessing)[None])
    return path


def _cold_once(ws: Workspace, tag: str, command: list[str], env: dict[str, str], cwd: Path) -> dict[str, Any]:
    result = Path(command[3])
    result.unlink(missing_ok=True)
    log = ws.log(f"cold-{tag}")
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
        "peak_rss_mb": r["vm_hwm_kb"] / 1024,
    }


def _cases(images: str) -> list[tuple[str, Path, Path, dict[str, Any], str, dict[str, str]]]:
    """(function, bundle, image, its 2.0 event, expected label, extra variables) per HTTP function."""
    url = json.dumps({"url": f"http://{images}/{FASHION_IMAGE.name}"}).encode()
    return [
        ("digits", BUNDLE, DIGIT_IMAGE, _http_event("/digits/predict", DIGIT_IMAGE.read_bytes(), "image/png"), "0", {}),
        ("fashion", FASHION, FASHION_IMAGE, _http_event("/fashion/predict", url, "application/json"), "trouser",
         {"URL_ALLOW_HOSTS": images}),
    ]  # fmt: skip


def cold_starts(ws: Workspace, settings: Settings, cloud: Any = None) -> dict[str, Any]:
    """The HTTP functions' cold starts against a bare script; with ``cloud``, also fashion's first request
    for an ``s3://`` URL, whose first read imports boto3 inside that invocation (INIT does not)."""
    python, probe = ws.python(), str(PROBES / "cold_start.py")
    routes: dict[str, tuple[list[str], dict[str, str], Path]] = {}
    with _image_server(FASHION / "reference") as images:
        cases = _cases(images)
        if cloud is not None:
            bucket = cloud.stack("sfn-inference")["outputs"]["BucketName"]
            cloud.client("s3").put_object(Bucket=bucket, Key="test/bench/trouser.png", Body=FASHION_IMAGE.read_bytes())
            url = json.dumps({"url": f"s3://{bucket}/test/bench/trouser.png"}).encode()
            event = _http_event("/fashion/predict", url, "application/json")
            cases.append(("fashion:s3", FASHION, FASHION_IMAGE, event, "trouser", {}))
        for function, bundle, image, event, label, extra in cases:
            event_path = ws.root / f"event-{function}.json".replace(":", "-")
            event_path.write_text(json.dumps(event))
            name, _, via = function.partition(":")
            task = ws.task_root_of(name)
            variables = {
                "POWERTOOLS_SERVICE_NAME": "sfn-inference",
                "POWERTOOLS_LOG_LEVEL": "INFO",
                "POWERTOOLS_METRICS_NAMESPACE": "SfnInference",  # the template's Globals
                "MODEL_DIR": f"models/{bundle.name}",
                "LITERT_NUM_THREADS": "1",
                "CAPTURE_DESTINATION_S3_URI": (ws.captures / function.replace(":", "-")).as_uri(),
                "CAPTURE_ENDPOINT_NAME": f"bench-{name}",
                **extra,
            }
            handler = [python, probe, "classify", str(ws.root / f"cold-{function}.json".replace(":", "-")),
                       str(event_path), label]  # fmt: skip
            aws = cloud.ctx.aws_env() if via == "s3" else None
            routes[function] = (handler, ws.lambda_env(variables, aws_env=aws, task_root=task), task)
            if via:
                continue
            index = str((bundle / "labels.txt").read_text().split().index(label))
            tensor, model = str(_tensor(ws, image, bundle)), str(bundle / "model.tflite")
            bare = [python, probe, "bare", str(ws.root / f"cold-bare-{function}.json"), tensor, index, model]
            routes[f"bare:{function}"] = (bare, ws.lambda_env({}, task_root=task), task)
        samples: dict[str, list[dict[str, Any]]] = defaultdict(list)
        for name, (command, env, cwd) in routes.items():
            _cold_once(ws, f"{name}-warmup".replace(":", "-"), command, env, cwd)
        for i in range(settings.repeats):
            for name, (command, env, cwd) in routes.items():
                samples[name].append(_cold_once(ws, f"{name}-{i}".replace(":", "-"), command, env, cwd))
    out: dict[str, Any] = {
        name: {
            "phases": {p: summary([r[p] for r in runs], "s") for p in PHASES},
            "peak_rss_mb": summary([r["peak_rss_mb"] for r in runs], "MB"),
        }
        for name, runs in samples.items()
    }
    for function in ("digits", "fashion"):
        out[function]["ratio_over_bare"] = ratio(
            out[function]["phases"]["total"]["median"], out[f"bare:{function}"]["phases"]["total"]["median"]
        )
    return out


def measure(ws: Workspace, settings: Settings, cloud: Any) -> dict[str, Any]:
    if "HttpApi" not in cloud.stack("sfn-inference")["resources"]:
        return {"status": "pending", "reason": "the stack has no HttpApi"}
    trips = round_trips(cloud, settings)
    cold = cold_starts(ws, settings, cloud)
    return {
        "status": "ok",
        "round_trip": trips,
        "cold_start": cold,
        "target_round_trip_over_direct": ROUND_TRIP_TARGET,
    }
