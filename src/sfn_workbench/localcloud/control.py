"""Start, find and stop the local cloud's server process, and deploy the template into it."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from sfn_inference.core.bundle import DEFAULT_BUNDLE
from sfn_workbench.localcloud import s3_persistence
from sfn_workbench.localcloud.context import ACCOUNT_ID, REGION, LocalCloudContext
from sfn_workbench.localcloud.deploy import ARTIFACTS_BUCKET, Deployer, Stack, model_tarball
from sfn_workbench.paths import project_root
from sfn_workbench.paths import state_dir as default_state_dir
from sfn_workbench.procs import alive, free_port, wait_gone

#: The two local stacks of the same template: one per classify backend.
STACKS = {"litert": "sfn-inference", "sagemaker": "sfn-inference-sagemaker"}
READY_TIMEOUT_S = 30.0
#: How long a stopping server has to stop its workers and save S3 before SIGKILL.
STOP_TIMEOUT_S = 10.0


class LocalCloudError(Exception):
    """The local cloud could not be started, found or reached."""


@dataclass(frozen=True)
class MountedRoute:
    route_key: str
    method: str
    function: str
    url: str


@dataclass
class LocalCloud:
    ctx: LocalCloudContext
    pid: int

    @property
    def state_file(self) -> Path:
        return self.ctx.state_dir / "cloud.json"

    def client(self, service: str) -> Any:
        return self.ctx.client(service)

    def stack(self, name: str) -> dict[str, Any]:
        path = self.ctx.state_dir / "stacks" / f"{name}.json"
        if not path.exists():
            raise LocalCloudError(f"stack {name} is not deployed (run `sfn-inference up`)")
        data: dict[str, Any] = json.loads(path.read_text())
        return data

    def deployed_stacks(self) -> list[str]:
        return sorted(p.stem for p in (self.ctx.state_dir / "stacks").glob("*.json"))

    def deploy(self, backend: str = "litert", overrides: dict[str, str] | None = None) -> Stack:
        # The URL route may fetch from this cloud's own S3 (a presigned URL), and from nothing
        # else on the loopback: the allow-list names this server's host and port only.
        params = {"Backend": backend, "UrlAllowHosts": urlsplit(self.ctx.endpoint_url).netloc, **(overrides or {})}
        if backend == "sagemaker":
            params.setdefault("ModelDataUrl", self.upload_model())
            params.setdefault(
                "ServingImageUri", f"{ACCOUNT_ID}.dkr.ecr.{REGION}.amazonaws.com/sfn-inference-serving:local"
            )
        return Deployer(self.ctx).deploy(STACKS[backend], params)

    def api_url(self, api_id: str, stage: str) -> str:
        """An HTTP API stage's base URL on this cloud (LocalStack's ``/_aws/execute-api`` convention)."""
        base = f"{self.ctx.endpoint_url}/_aws/execute-api/{api_id}"
        return base if stage == "$default" else f"{base}/{stage}"

    def http_routes(self, stack_name: str) -> list[MountedRoute]:
        """Every route of the stack's HTTP APIs, with its function and local URL, per stage."""
        apigw = self.client("apigatewayv2")
        mounted = []
        for resource in self.stack(stack_name)["resources"].values():
            if resource["type"] != "AWS::ApiGatewayV2::Api":
                continue
            api_id = resource["ref"]
            integrations = {i["IntegrationId"]: i for i in apigw.get_integrations(ApiId=api_id)["Items"]}
            for stage in sorted(s["StageName"] for s in apigw.get_stages(ApiId=api_id)["Items"]):
                for route in sorted(apigw.get_routes(ApiId=api_id)["Items"], key=lambda r: r["RouteKey"]):
                    integration = integrations.get(str(route.get("Target", "")).removeprefix("integrations/"), {})
                    function = str(integration.get("IntegrationUri", "")).split(":function:")[-1].split("/")[0]
                    method, _, path = route["RouteKey"].partition(" ")
                    url = self.api_url(api_id, stage) + (path if path else "/")
                    mounted.append(MountedRoute(route["RouteKey"], method, function, url))
        return mounted

    def upload_model(self, bundle: Path | None = None) -> str:
        """Put the bundle where SageMaker's ModelDataUrl points: a model.tar.gz in S3."""
        bundle = bundle or project_root() / DEFAULT_BUNDLE
        s3 = self.client("s3")
        s3.create_bucket(Bucket=ARTIFACTS_BUCKET)
        key = f"models/{bundle.name}/model.tar.gz"
        s3.put_object(Bucket=ARTIFACTS_BUCKET, Key=key, Body=model_tarball(bundle))
        return f"s3://{ARTIFACTS_BUCKET}/{key}"

    def stop(self) -> None:
        """SIGTERM to the server: it stops its workers and endpoints, saves S3 (``s3_persistence``), exits.

        The signal goes to the server alone, not to its process group: the server stops its
        workers in the order that keeps every capture (the log subscription's function last);
        a worker killed by the group's signal would take the compactor down before the last put.
        Only a server that does not exit in time gets SIGKILL, with its whole group.
        """
        (s3_persistence.store_dir(self.ctx.state_dir) / s3_persistence.SAVED_FILE).unlink(missing_ok=True)
        with contextlib.suppress(ProcessLookupError):
            os.kill(self.pid, signal.SIGTERM)
        if not wait_gone(self.pid, STOP_TIMEOUT_S):
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.pid, signal.SIGKILL)
        self.state_file.unlink(missing_ok=True)


def start(state_dir: Path | None = None, max_workers: int = 4, *, fresh: bool = False) -> LocalCloud:
    """Start a server process on a free 127.0.0.1 port and wait until it answers.

    The S3 objects saved by the last server come back (``s3_persistence``), unless
    ``fresh``, which also forgets the function logs.
    """
    state_dir = state_dir or default_state_dir()
    existing = find(state_dir)
    if existing is not None:
        raise LocalCloudError(f"a local cloud is already running at {existing.ctx.endpoint_url} (pid {existing.pid})")
    state_dir = state_dir.resolve()
    stale = ["stacks", "functions", "endpoints"]  # a new server deploys again: forget the last one's stacks
    if fresh:
        stale += [s3_persistence.DIR_NAME, "logs"]
    for name in stale:
        _rmtree(state_dir / name)
    (state_dir / "ready").unlink(missing_ok=True)
    (state_dir / "faults.json").unlink(missing_ok=True)
    (s3_persistence.store_dir(state_dir) / s3_persistence.RESTORED_FILE).unlink(missing_ok=True)
    state_dir.mkdir(parents=True, exist_ok=True)
    port = free_port()
    out = (state_dir / "server.out").open("w")
    process = subprocess.Popen(
        [sys.executable, "-m", "sfn_workbench.localcloud.server", "--port", str(port), "--state-dir", str(state_dir),
         "--max-workers", str(max_workers)],
        stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
        env={**os.environ, "SFN_PROJECT_ROOT": str(project_root())}, cwd=project_root(),
    )  # fmt: skip
    ctx = LocalCloudContext(f"http://127.0.0.1:{port}", state_dir, max_workers)
    cloud = LocalCloud(ctx, process.pid)
    deadline = time.monotonic() + READY_TIMEOUT_S
    while not (state_dir / "ready").exists():
        if process.poll() is not None:
            raise LocalCloudError(
                f"the local cloud exited with {process.returncode}:\n{_tail(state_dir / 'server.out')}"
            )
        if time.monotonic() > deadline:
            cloud.stop()
            raise LocalCloudError(f"the local cloud did not start within {READY_TIMEOUT_S:.0f} s")
        time.sleep(0.05)
    cloud.state_file.write_text(
        json.dumps({"pid": process.pid, "endpoint": ctx.endpoint_url, "max_workers": max_workers})
    )
    return cloud


def find(state_dir: Path | None = None) -> LocalCloud | None:
    """The running local cloud recorded in ``state_dir``, if its process is alive."""
    state_dir = state_dir or default_state_dir()
    path = state_dir / "cloud.json"
    if not path.exists():
        return None
    data = json.loads(path.read_text())
    if not alive(int(data["pid"])):
        path.unlink(missing_ok=True)
        return None
    return LocalCloud(
        LocalCloudContext(data["endpoint"], state_dir.resolve(), int(data["max_workers"])), int(data["pid"])
    )


def require(state_dir: Path | None = None) -> LocalCloud:
    state_dir = state_dir or default_state_dir()
    cloud = find(state_dir)
    if cloud is None:
        raise LocalCloudError(
            f"no local cloud is running (looked in {state_dir}): start one with `sfn-inference up --detach`"
        )
    return cloud


def _tail(path: Path, lines: int = 30) -> str:
    return "\n".join(path.read_text(errors="replace").splitlines()[-lines:]) if path.exists() else ""


def _rmtree(path: Path) -> None:
    shutil.rmtree(path, ignore_errors=True)
