"""Helpers for tests that talk to a running local cloud."""

from __future__ import annotations

import time
from typing import Any

from sfn_workbench.localcloud.executions import list_execution_arns


def function_name(stack: dict[str, Any], logical_id: str) -> str:
    return str(stack["resources"][logical_id]["ref"])


def executions_of(sfn: Any, state_machine: str, key: str) -> list[dict[str, Any]]:
    """Every execution whose input names ``key``, running or not."""
    described = (sfn.describe_execution(executionArn=arn) for arn in list_execution_arns(sfn, state_machine))
    return [d for d in described if key in d.get("input", "")]


def wait_for_execution_of(sfn: Any, state_machine: str, key: str, timeout_s: float = 60) -> list[dict[str, Any]]:
    """Every terminal execution whose input names ``key``; waits for at least one."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        found = []
        for arn in list_execution_arns(sfn, state_machine):
            d = sfn.describe_execution(executionArn=arn)
            if key in d.get("input", "") and d["status"] != "RUNNING":
                found.append(d)
        if found:
            return found
        time.sleep(0.2)
    raise AssertionError(f"no finished execution for {key} within {timeout_s} s")


def wait_terminal(sfn: Any, arn: str, timeout_s: float = 60) -> dict[str, Any]:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        d: dict[str, Any] = sfn.describe_execution(executionArn=arn)
        if d["status"] != "RUNNING":
            return d
        time.sleep(0.1)
    raise AssertionError(f"{arn} still running after {timeout_s} s")
