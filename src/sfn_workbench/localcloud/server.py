"""The local cloud's server process: moto's server with real ASL execution and our plugins.

``python -m sfn_workbench.localcloud.server --port P --state-dir D`` is started
by ``sfn-inference up``; it binds 127.0.0.1 only.
"""

from __future__ import annotations

import atexit
import importlib
import logging
import os
import signal
import threading
import time
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Annotated, Any

import typer

from sfn_workbench.localcloud import levers
from sfn_workbench.localcloud.context import LocalCloudContext


def configure_moto(port: int) -> None:
    # The ASL interpreter calls Lambda through boto3 at localhost:$MOTO_PORT: set it
    # before moto reads it (ThreadedMotoServer would not).
    os.environ["MOTO_PORT"] = str(port)
    os.environ["MOTO_IAM_LOAD_MANAGED_POLICIES"] = "true"  # SAM attaches AWS managed policies by ARN
    from moto.core.config import default_user_config  # noqa: PLC0415

    default_user_config["stepfunctions"] = {"execute_state_machine": True}


#: What runs when the server stops, in order: stop the Lambda workers and endpoint servers
#: (they may still write captures to S3 as they stop), then save S3 to the state directory.
CLEANUPS: list[Callable[[], None]] = []


#: Every plugin, in install order (speedups before distributed_map: it wraps the cached parser).
#: Each declares its moto patch targets in ``PATCH_TARGETS``.
PLUGINS = (
    "origin_plugin",
    "speedups_plugin",
    "lambda_plugin",
    "eventbridge_plugin",
    "stepfunctions_plugin",
    "s3_plugin",
    "distributed_map_plugin",
    "sagemaker",
    "apigateway_plugin",
    "schedule_plugin",
    "metrics_plugin",
    "s3_persistence",
)


def plugin_modules() -> list[ModuleType]:
    return [importlib.import_module(f"sfn_workbench.localcloud.{name}") for name in PLUGINS]


def install_plugins(ctx: LocalCloudContext) -> list[str]:
    """Install every plugin; a moto upgrade that breaks one fails here, loudly."""
    from sfn_workbench.localcloud import lambda_plugin, patches, s3_persistence, sagemaker  # noqa: PLC0415

    installed = {module.__name__.rsplit(".", 1)[1]: module.install(ctx) for module in plugin_modules()}
    local_lambda: lambda_plugin.LocalLambda = installed["lambda_plugin"]
    local_lambda.publisher.listeners.append(installed["metrics_plugin"])  # EMF lines become metrics
    CLEANUPS.extend([local_lambda.shutdown, sagemaker.stop_all_endpoints])

    def save_s3() -> None:
        s3_persistence.save(ctx)

    CLEANUPS.append(save_s3)
    atexit.register(run_cleanups)
    return patches.applied()


def run_cleanups() -> None:
    log = logging.getLogger(__name__)
    for cleanup in CLEANUPS:
        name = getattr(cleanup, "__qualname__", cleanup)
        started = time.monotonic()
        try:
            cleanup()
        except Exception:  # the server is stopping: say what failed, and let the other cleanups run
            log.exception("cleanup %s failed", name)
        log.info("cleanup %s: %.0f ms", name, (time.monotonic() - started) * 1000)


def _ignore(*_: Any) -> None:
    """A signal while stopping: already stopping."""


def serve(port: int, keep_alive: bool) -> None:
    """Serve moto's app on 127.0.0.1:PORT from a daemon thread: with persistent connections
    (``keepalive``), or as ``ThreadedMotoServer`` does, one connection per request."""
    if keep_alive:
        from sfn_workbench.localcloud import keepalive  # noqa: PLC0415 (moto is imported after configure_moto)

        server = keepalive.make("127.0.0.1", port)
        threading.Thread(target=server.serve_forever, name="moto-server", daemon=True).start()
        return
    from moto.moto_server.threaded_moto_server import ThreadedMotoServer  # noqa: PLC0415

    ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False).start()


def main(
    port: Annotated[int, typer.Option()],
    state_dir: Annotated[Path, typer.Option()],
    max_workers: Annotated[int, typer.Option(help="execution environments per function")] = 4,
) -> None:
    """Serve the local cloud on 127.0.0.1:PORT until SIGTERM."""
    state_dir.mkdir(parents=True, exist_ok=True)
    logging.basicConfig(
        level=logging.INFO,
        format="%(asctime)s %(name)s %(levelname)s %(message)s",
        handlers=[logging.FileHandler(state_dir / "server.log")],
    )
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    configure_moto(port)
    ctx = LocalCloudContext(
        endpoint_url=f"http://127.0.0.1:{port}",
        state_dir=state_dir,
        max_workers_per_function=max_workers,
    )
    applied = install_plugins(ctx)
    logging.getLogger(__name__).info("patches: %s", ", ".join(applied))
    logging.getLogger(__name__).info("speed levers: %s", ", ".join(sorted(levers.enabled())) or "none")

    serve(port, keep_alive="keepalive" in levers.enabled())

    def stop(*_: Any) -> None:
        # Stop the Lambda workers and endpoint servers (atexit), then leave without joining
        # threads: moto runs each ASL execution on a non-daemon thread, and one blocked on a
        # Lambda call must not keep a stopped cloud alive. A second signal while stopping is ignored,
        # by a handler, not SIG_IGN: a worker started while stopping (the log subscription's function,
        # for the last put) would inherit SIG_IGN and ignore its own SIGTERM for the whole grace.
        signal.signal(signal.SIGTERM, _ignore)
        signal.signal(signal.SIGINT, _ignore)
        run_cleanups()
        os._exit(0)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    (state_dir / "ready").write_text(ctx.endpoint_url)
    signal.pause()


if __name__ == "__main__":
    typer.run(main)
