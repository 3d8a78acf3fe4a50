"""The integration tests run against a real local cloud: a server process on 127.0.0.1."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from sfn_workbench.localcloud import control


@pytest.fixture(scope="session")
def cloud(tmp_path_factory: pytest.TempPathFactory) -> Iterator[control.LocalCloud]:
    local = control.start(tmp_path_factory.mktemp("local-cloud"), max_workers=3)
    try:
        local.deploy("litert")
        yield local
    finally:
        local.stop()


@pytest.fixture(scope="session")
def stack(cloud: control.LocalCloud) -> dict[str, Any]:
    return cloud.stack(control.STACKS["litert"])


@pytest.fixture(scope="session")
def bucket(stack: dict[str, Any]) -> str:
    return str(stack["outputs"]["BucketName"])


@pytest.fixture(scope="session")
def state_machine(stack: dict[str, Any]) -> str:
    return str(stack["outputs"]["StateMachineArn"])


@pytest.fixture(scope="session")
def sfn(cloud: control.LocalCloud) -> Any:
    return cloud.client("stepfunctions")


@pytest.fixture(scope="session")
def s3(cloud: control.LocalCloud) -> Any:
    return cloud.client("s3")
