"""The local cloud's server process: moto's server with real ASL execution and our plugins.

``python -m sfn_inference.localcloud.server --port P --state-dir D`` is started
by ``sfn-inference up``; it binds 127.0.0.1 only.
"""

from __future__ import annotations

import argparse
import atexit
import logging
import os
import signal
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sfn_inference.localcloud.context import LocalCloudContext


def configure_moto(port: int) -> None:
    # The ASL interpreter calls Lambda through boto3 at localhost:$MOTO_PORT: set it
    # before moto reads it (ThreadedMotoServer would not).
    os.environ["MOTO_PORT"] = str(port)
    os.environ["MOTO_IAM_LOAD_MANAGED_POLICIES"] = "true"  # SAM attaches AWS managed policies by ARN
    from moto.core.config import default_user_config  # noqa: PLC0415

    default_user_config["stepfunctions"] = {"execute_state_machine": True}


#: What stops the processes the plugins started (Lambda workers, endpoint servers).
CLEANUPS: list[Callable[[], None]] = []


def install_plugins(ctx: LocalCloudContext) -> list[str]:
    """Install every plugin; a moto upgrade that breaks one fails here, loudly."""
    from sfn_inference.localcloud import (  # noqa: PLC0415
        distributed_map_plugin,
        eventbridge_plugin,
        lambda_plugin,
        patches,
        s3_plugin,
        sagemaker,
        speedups_plugin,
    )

    speedups_plugin.install(ctx)  # first: the distributed-map plugin wraps the cached parser
    service = lambda_plugin.install(ctx)
    CLEANUPS.extend([service.shutdown, sagemaker.stop_all_endpoints])
    for cleanup in CLEANUPS:
        atexit.register(cleanup)
    eventbridge_plugin.install(ctx)
    s3_plugin.install(ctx)
    distributed_map_plugin.install(ctx)
    sagemaker.install(ctx)
    return patches.applied()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--state-dir", type=Path, required=True)
    parser.add_argument("--max-workers", type=int, default=4, help="execution environments per function")
    args = parser.parse_args(argv)

    args.state_dir.mkdir(parents=True, exist_ok=True)
    logging.basicConfig(
        level=logging.INFO,
        format="%(asctime)s %(name)s %(levelname)s %(message)s",
        handlers=[logging.FileHandler(args.state_dir / "server.log")],
    )
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    configure_moto(args.port)
    ctx = LocalCloudContext(
        endpoint_url=f"http://127.0.0.1:{args.port}",
        state_dir=args.state_dir,
        max_workers_per_function=args.max_workers,
    )
    applied = install_plugins(ctx)
    logging.getLogger(__name__).info("patches: %s", ", ".join(applied))

    from moto.moto_server.threaded_moto_server import ThreadedMotoServer  # noqa: PLC0415

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=args.port, verbose=False)

    def stop(*_: Any) -> None:
        # Stop the Lambda workers and endpoint servers (atexit), then leave without joining
        # threads: moto runs each ASL execution on a non-daemon thread, and one blocked on a
        # Lambda call must not keep a stopped cloud alive.
        for cleanup in CLEANUPS:
            cleanup()
        os._exit(0)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    server.start()
    (args.state_dir / "ready").write_text(ctx.endpoint_url)
    signal.pause()


if __name__ == "__main__":
    main()
