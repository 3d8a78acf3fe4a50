"""StartExecution refuses what Step Functions refuses: non-JSON input, and input over 256 KB."""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest
from botocore.exceptions import ClientError

#: StartExecution's input: at most 262,144 bytes, counted in UTF-8.
LIMIT = 262_144


def start(sfn: Any, state_machine: str, payload: str) -> Any:
    return sfn.start_execution(stateMachineArn=state_machine, name=f"limit-{uuid.uuid4().hex[:8]}", input=payload)


def padded(size: int, filler: str = "x") -> str:
    """A JSON document of exactly ``size`` UTF-8 bytes."""
    skeleton = json.dumps({"s3_bucket": "b", "s3_key": "k", "pad": ""})
    count = (size - len(skeleton.encode())) // len(filler.encode())
    document = json.dumps({"s3_bucket": "b", "s3_key": "k", "pad": filler * count}, ensure_ascii=False)
    assert len(document.encode()) == size
    return document


def test_non_json_input_is_invalid_execution_input(sfn, state_machine) -> None:
    with pytest.raises(ClientError) as raised:
        start(sfn, state_machine, "{not json")
    error = raised.value.response["Error"]
    assert error["Code"] == "InvalidExecutionInput"
    assert error["Message"].startswith("Invalid State Machine Execution Input:")
    assert raised.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400


def test_input_over_256_kb_is_refused_and_256_kb_is_accepted(sfn, state_machine) -> None:
    assert start(sfn, state_machine, padded(LIMIT))["executionArn"]
    for too_big in (padded(LIMIT + 1), padded(LIMIT + 2, filler="é")):  # bytes count, not characters
        with pytest.raises(ClientError) as raised:
            start(sfn, state_machine, too_big)
        error = raised.value.response["Error"]
        assert error["Code"] == "ValidationException"
        assert error["Message"] == (
            "1 validation error detected: Value at 'input' failed to satisfy constraint: "
            f"Member must have length less than or equal to {LIMIT}"
        )
