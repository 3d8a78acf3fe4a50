"""Plugin: SageMaker endpoints that really serve the model, with data capture.

moto records CreateEndpoint and answers InvokeEndpoint with a canned ``b"body"``
(and fails outright on a binary body). Here:

* ``create_endpoint`` extracts the Model's ``model.tar.gz`` from moto's own S3
  into ``<state_dir>/endpoints/<name>`` and starts ``serving/server.py`` (what the
  container image runs) for it, with the EndpointConfig's DataCaptureConfig. The
  endpoint is ``Creating`` until the server answers ``/ping``, then ``InService``;
  ``Failed`` with a FailureReason if it cannot start, as on AWS.
* ``delete_endpoint`` stops the server; every server stops at interpreter exit.
* ``invoke_endpoint`` forwards Body, ContentType, Accept, InferenceId and
  CustomAttributes to the server and returns its answer. A 4xx/5xx from it is
  SageMaker's ``ModelError`` (HTTP 424); an unknown endpoint is SageMaker's
  ``ValidationError``.
* An InService endpoint is supervised as SageMaker supervises its instance: a
  server that exits, or fails :data:`UNHEALTHY_AFTER` pings in a row (hung), is
  replaced by a fresh one, and the endpoint stays ``InService``. Until the new one
  answers ``/ping``, invocations get what SageMaker answers when it gets no response
  from the container: ``ModelError`` with original status 0.

The model container's ``Image`` is not run (there is no Docker): every endpoint
runs this project's server, which is what the image would run.
"""

from __future__ import annotations

import atexit
import http.client
import io
import json
import logging
import os
import re
import shutil
import subprocess
import sys
import tarfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from moto.core.utils import utcnow
from moto.s3.models import s3_backends
from moto.sagemaker.exceptions import ValidationError
from moto.sagemaker.models import FakeEndpoint, SageMakerModelBackend
from moto.sagemakerruntime.responses import SageMakerRuntimeResponse

from sfn_workbench.localcloud import patches
from sfn_workbench.localcloud.context import LocalCloudContext
from sfn_workbench.paths import project_root
from sfn_workbench.procs import free_port, stop_process

log = logging.getLogger("sfn_workbench.localcloud.sagemaker")

SERVER_SCRIPT = Path("serving") / "server.py"  # relative to the checkout (sfn_workbench.paths)
START_TIMEOUT_S = 60.0
#: SageMaker gives a real-time invocation 60 s.
INVOKE_TIMEOUT_S = 60.0
#: Health checks of a running endpoint: SageMaker pings the container and wants an answer
#: within 2 s; an instance that keeps failing is replaced.
PING_INTERVAL_S = 2.0
PING_TIMEOUT_S = 2.0
UNHEALTHY_AFTER = 3
#: SageMaker's message when the container gives no response (a crashed or hung instance).
NO_RESPONSE = (
    "Amazon SageMaker could not get a response from the {name} endpoint. This can occur when CPU or memory "
    "utilization is high. To check your utilization, see Amazon CloudWatch. To fix this problem, use an "
    "instance type with more CPU capacity or memory."
)
#: Request headers passed through to the container, as SageMaker does.
FORWARDED_HEADERS = (
    "Content-Type",
    "Accept",
    "X-Amzn-SageMaker-Inference-Id",
    "X-Amzn-SageMaker-Custom-Attributes",
)
_INVOCATIONS_PATH = re.compile(r"^/endpoints/(?P<name>[^/]+)/invocations$")

#: Every moto attribute this plugin replaces (tests/unit checks they exist).


class EndpointSetupError(Exception):
    """Why an endpoint could not start; its message becomes the endpoint's FailureReason."""


@dataclass
class RunningEndpoint:
    name: str
    account_id: str
    region: str
    variant_name: str
    model_dir: Path
    log_path: Path
    process: subprocess.Popen[bytes] | None = None
    port: int | None = None  # set once /ping answers: the endpoint is InService
    stopped: bool = field(default=False, repr=False)
    command: list[str] = field(default_factory=list, repr=False)
    env: dict[str, str] = field(default_factory=dict, repr=False)
    replacements: int = 0  # servers started again after a crash or a hang

    def stop(self) -> None:
        """SIGTERM (the server flushes its capture buffer), then SIGKILL if it does not exit."""
        with _registry.lock:  # no replacement starts after this
            self.stopped = True
            process = self.process
        if process is None or process.poll() is not None:
            return
        stop_process(process, grace_s=10)


class _Registry:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.endpoints: dict[tuple[str, str, str], RunningEndpoint] = {}

    def stop_all(self) -> None:
        with self.lock:
            running, self.endpoints = list(self.endpoints.values()), {}
        for endpoint in running:
            endpoint.stop()


_registry = _Registry()
atexit.register(_registry.stop_all)


def running_endpoints() -> list[RunningEndpoint]:
    """The endpoints with a server process (Creating or InService), for status displays and tests."""
    with _registry.lock:
        return list(_registry.endpoints.values())


def stop_all_endpoints() -> None:
    """Stop every endpoint server (also registered with atexit)."""
    _registry.stop_all()


PATCH_TARGETS: tuple[patches.Target, ...] = (
    (SageMakerModelBackend, "create_endpoint"),
    (SageMakerModelBackend, "delete_endpoint"),
    (SageMakerRuntimeResponse, "setup_class"),
    (SageMakerRuntimeResponse, "invoke_endpoint"),
)


def install(ctx: LocalCloudContext) -> None:
    """Patch moto in this process (idempotent: a second call re-targets the patches at ``ctx``)."""
    patches.wrap(SageMakerModelBackend, "create_endpoint", lambda original: _patched_create(ctx, original))
    patches.wrap(SageMakerModelBackend, "delete_endpoint", _patched_delete)
    patches.wrap(SageMakerRuntimeResponse, "setup_class", _patched_setup_class)
    patches.replace(SageMakerRuntimeResponse, "invoke_endpoint", invoke_endpoint)


def _patched_create(ctx: LocalCloudContext, original: Callable[..., FakeEndpoint]) -> Callable[..., FakeEndpoint]:
    def create_endpoint(
        self: SageMakerModelBackend, endpoint_name: str, endpoint_config_name: str, tags: list[dict[str, str]]
    ) -> FakeEndpoint:
        if endpoint_name in self.endpoints:  # moto would silently replace it, orphaning its server
            arn = FakeEndpoint.arn_formatter(endpoint_name, self.account_id, self.region_name)
            raise ValidationError(message=f'Cannot create already existing endpoint "{arn}".')
        endpoint = original(self, endpoint_name, endpoint_config_name, tags)
        endpoint.endpoint_status = "Creating"
        running = RunningEndpoint(
            name=endpoint_name,
            account_id=self.account_id,
            region=self.region_name,
            variant_name="",
            model_dir=ctx.state_dir / "endpoints" / endpoint_name,
            log_path=ctx.logs_dir / f"sagemaker-endpoint-{endpoint_name}.log",
        )
        with _registry.lock:
            _registry.endpoints[(self.account_id, self.region_name, endpoint_name)] = running
        threading.Thread(
            target=_bring_up, args=(ctx, self, endpoint, running), name=f"endpoint-{endpoint_name}", daemon=True
        ).start()
        return endpoint

    return create_endpoint


def _patched_delete(original: Callable[..., None]) -> Callable[..., None]:
    def delete_endpoint(self: SageMakerModelBackend, endpoint_name: str) -> None:
        original(self, endpoint_name)  # raises SageMaker's ValidationError when there is none
        with _registry.lock:
            running = _registry.endpoints.pop((self.account_id, self.region_name, endpoint_name), None)
        if running is not None:
            running.stop()
            shutil.rmtree(running.model_dir, ignore_errors=True)

    return delete_endpoint


def _patched_setup_class(original: Callable[..., None]) -> Callable[..., None]:
    def setup_class(self: SageMakerRuntimeResponse, request: Any, full_url: Any = None, headers: Any = None) -> None:
        # moto decodes every body as UTF-8, which fails on any image: keep it as bytes.
        original(self, request, full_url, headers, use_raw_body=True)

    return setup_class


def _bring_up(
    ctx: LocalCloudContext, backend: SageMakerModelBackend, endpoint: FakeEndpoint, running: RunningEndpoint
) -> None:
    try:
        _start(ctx, backend, endpoint, running)
    except EndpointSetupError as exc:
        _fail(endpoint, running, str(exc))
    except Exception as exc:  # a thread has no caller: whatever went wrong must show on the endpoint
        log.exception("endpoint %s failed to start", running.name)
        _fail(endpoint, running, f"{type(exc).__name__}: {exc}")


def _fail(endpoint: FakeEndpoint, running: RunningEndpoint, reason: str) -> None:
    log.warning("endpoint %s failed: %s", running.name, reason)
    running.stop()
    endpoint.endpoint_status = "Failed"
    endpoint.failure_reason = reason[:1024]  # type: ignore[assignment]  # moto types it as always None
    endpoint.last_modified_time = utcnow()


def _start(
    ctx: LocalCloudContext, backend: SageMakerModelBackend, endpoint: FakeEndpoint, running: RunningEndpoint
) -> None:
    config = backend.endpoint_configs[endpoint.endpoint_config_name]
    if len(config.production_variants) != 1:
        raise EndpointSetupError("the local cloud serves exactly one production variant per endpoint")
    variant = config.production_variants[0]
    running.variant_name = variant["VariantName"]
    model = backend._models[variant["ModelName"]]
    container = model.primary_container or (model.containers[0] if len(model.containers) == 1 else {})
    url = str(container.get("ModelDataUrl") or "")
    if not url.endswith(".tar.gz"):
        raise EndpointSetupError(
            f"model {model.model_name}: ModelDataUrl must name an s3://.../model.tar.gz, not {url!r}"
        )
    _extract(_read_s3(backend, url), running.model_dir)

    running.log_path.parent.mkdir(parents=True, exist_ok=True)
    port = free_port()
    command = [
        sys.executable,
        str(project_root() / SERVER_SCRIPT),
        "--model-dir",
        str(running.model_dir),
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--endpoint-name",
        running.name,
        "--variant-name",
        running.variant_name,
        "--data-capture-config",
        json.dumps(config.data_capture_config or {}),
        "--parent-pid",
        str(os.getpid()),
    ]
    # The container's Environment, as SageMaker sets it; AWS_* so capture reaches this cloud's S3.
    running.env = {
        **os.environ, **ctx.aws_env(), **{str(k): str(v) for k, v in (container.get("Environment") or {}).items()}
    }  # fmt: skip
    running.command = command
    process = _spawn(running, port)
    if process is None:
        return  # deleted while the model was being extracted
    _wait_for_ping(running, port)
    with _registry.lock:
        if _registry.endpoints.get((running.account_id, running.region, running.name)) is running:
            running.port = port
            endpoint.endpoint_status = "InService"
            endpoint.last_modified_time = utcnow()
            log.info("endpoint %s InService on port %d (pid %d)", running.name, port, process.pid)
    threading.Thread(target=_supervise, args=(running,), name=f"supervise-{running.name}", daemon=True).start()


def _spawn(running: RunningEndpoint, port: int) -> subprocess.Popen[bytes] | None:
    """Start the endpoint's server on ``port``; None when the endpoint was deleted meanwhile."""
    command = [*running.command]
    command[command.index("--port") + 1] = str(port)
    key = (running.account_id, running.region, running.name)
    with running.log_path.open("ab") as log_file, _registry.lock:
        if running.stopped or _registry.endpoints.get(key) is not running:
            return None
        running.process = subprocess.Popen(command, stdout=log_file, stderr=subprocess.STDOUT, env=running.env)
        return running.process


def _healthy(port: int) -> bool:
    try:
        return _request(port, "GET", "/ping", None, {}, timeout=PING_TIMEOUT_S)[0] == 200
    except OSError:
        return False


def _supervise(running: RunningEndpoint) -> None:
    """Replace a server that exits or stops answering /ping, as SageMaker replaces a failed instance."""
    failures, next_ping, backoff = 0, time.monotonic() + PING_INTERVAL_S, PING_INTERVAL_S
    while not running.stopped:
        time.sleep(0.1)
        process, port = running.process, running.port
        if running.stopped or process is None or port is None:
            return
        if process.poll() is None:
            if time.monotonic() < next_ping:
                continue
            next_ping = time.monotonic() + PING_INTERVAL_S
            failures = 0 if _healthy(port) else failures + 1
            if failures < UNHEALTHY_AFTER:
                continue
            reason = f"{failures} pings unanswered"
        else:
            reason = f"its server exited with status {process.returncode}"
        log.warning("endpoint %s: %s: replacing it", running.name, reason)
        try:
            _replace(running, process)
            backoff = PING_INTERVAL_S
        except EndpointSetupError as exc:  # keeps trying, as SageMaker does while the endpoint is InService
            log.warning("endpoint %s: the replacement failed, next try in %.0f s: %s", running.name, backoff, exc)
            time.sleep(backoff)
            backoff = min(backoff * 2, 60.0)
        failures, next_ping = 0, time.monotonic() + PING_INTERVAL_S


def _replace(running: RunningEndpoint, failed: subprocess.Popen[bytes]) -> None:
    stop_process(failed, grace_s=1.0)  # a hung server may still flush its captures on SIGTERM
    port = free_port()
    process = _spawn(running, port)
    if process is None:
        return
    _wait_for_ping(running, port)
    with _registry.lock:
        if not running.stopped:
            running.port = port
            running.replacements += 1
            log.info("endpoint %s replaced: port %d (pid %d)", running.name, port, process.pid)


def _read_s3(backend: SageMakerModelBackend, url: str) -> bytes:
    """The object from moto's S3 in this process: SageMaker reads it with the model's role, no HTTP."""
    parsed = urlparse(url)
    if parsed.scheme != "s3" or not parsed.netloc:
        raise EndpointSetupError(f"ModelDataUrl {url!r} is not an s3:// URL")
    s3 = s3_backends[backend.account_id][backend.partition]
    try:
        key = s3.get_object(parsed.netloc, parsed.path.lstrip("/"))
    except Exception as exc:  # moto raises MissingBucket / MissingKey, both client errors
        raise EndpointSetupError(f"could not read the model data {url}: {exc}") from None
    if key is None:
        raise EndpointSetupError(f"could not read the model data {url}: no such key")
    data: bytes = key.value
    return data


def _extract(data: bytes, target: Path) -> None:
    shutil.rmtree(target, ignore_errors=True)
    target.mkdir(parents=True)
    try:
        with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as archive:
            archive.extractall(target, filter="data")  # refuses absolute paths, .., devices and links out
    except (tarfile.TarError, OSError, EOFError) as exc:
        raise EndpointSetupError(f"the model data is not a valid .tar.gz: {exc}") from None


def _wait_for_ping(running: RunningEndpoint, port: int) -> None:
    deadline = time.monotonic() + START_TIMEOUT_S
    assert running.process is not None
    while time.monotonic() < deadline:
        if running.stopped:
            return
        if running.process.poll() is not None:
            raise EndpointSetupError(
                f"the model server exited with status {running.process.returncode}: {_tail(running.log_path)}"
            )
        try:
            if _request(port, "GET", "/ping", None, {}, timeout=1.0)[0] == 200:
                return
        except OSError:
            pass  # not listening yet
        time.sleep(0.05)
    raise EndpointSetupError(
        f"the model server did not answer /ping within {START_TIMEOUT_S:.0f} s: {_tail(running.log_path)}"
    )


def _tail(path: Path, lines: int = 5) -> str:
    try:
        return " | ".join(path.read_text(errors="replace").strip().splitlines()[-lines:])
    except OSError:
        return "(no log)"


def _request(
    port: int, method: str, path: str, body: bytes | None, headers: dict[str, str], timeout: float
) -> tuple[int, str | None, bytes]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        connection.request(method, path, body=body, headers=headers)
        response = connection.getresponse()
        return response.status, response.getheader("Content-Type"), response.read()
    finally:
        connection.close()


# --- sagemaker-runtime -----------------------------------------------------------------------------


def invoke_endpoint(self: SageMakerRuntimeResponse) -> tuple[int, dict[str, str], bytes | str]:
    match = _INVOCATIONS_PATH.match(self.path)
    name = match["name"] if match else ""
    account = self.current_account
    with _registry.lock:
        running = _registry.endpoints.get((account, self.region, name))
    if running is None or running.port is None:
        # What SageMaker says for a name it does not know, and for an endpoint not yet InService.
        return _error(400, "ValidationError", f"Endpoint {name} of account {account} not found.")
    headers = {h: str(self.headers[h]) for h in FORWARDED_HEADERS if self.headers.get(h) is not None}
    body = self.body if isinstance(self.body, bytes) else str(self.body or "").encode()
    try:
        status, content_type, payload = _request(
            running.port, "POST", "/invocations", body, headers, timeout=INVOKE_TIMEOUT_S
        )
    except TimeoutError:
        return _model_error(running, self.region, 0, "Your invocation timed out while waiting for a response.")
    except OSError:  # crashed, killed or being replaced: SageMaker got no response from the container
        return _model_error(running, self.region, 0, NO_RESPONSE.format(name=running.name))
    if status >= 400:
        return _model_error(running, self.region, status, payload.decode(errors="replace"))
    response_headers = {
        "Content-Type": content_type or "application/octet-stream",
        "x-Amzn-Invoked-Production-Variant": running.variant_name,
    }
    return 200, response_headers, payload


def _error(status: int, code: str, message: str, **fields: Any) -> tuple[int, dict[str, str], str]:
    # rest-json: botocore reads the code from x-amzn-ErrorType and the message from the body.
    # moto takes the status from the "status" header, not from the tuple.
    headers = {"status": str(status), "Content-Type": "application/json", "x-amzn-ErrorType": code}
    return status, headers, json.dumps({"message": message, **fields})


def _model_error(running: RunningEndpoint, region: str, status: int, message: str) -> tuple[int, dict[str, str], str]:
    kind = "client" if 400 <= status < 500 else "server"
    group = f"/aws/sagemaker/Endpoints/{running.name}"
    return _error(
        424,
        "ModelError",
        # SageMaker's own wording, with the local log file where it links to CloudWatch.
        f'Received {kind} error ({status}) from primary with message "{message}". '
        f"See {running.log_path} in account {running.account_id} for more information.",
        OriginalStatusCode=status,
        OriginalMessage=message,
        LogStreamArn=f"arn:aws:logs:{region}:{running.account_id}:log-group:{group}:log-stream:{running.variant_name}/local",
    )
