"""Plugin: StartExecution refuses the input Step Functions refuses.

moto's ASL backend raises its own ``InvalidExecutionInput`` class for non-JSON
input, which its HTTP layer answers with an empty error code, and it accepts input
of any size. Here, as the Step Functions API does:

* input over 262,144 bytes (UTF-8) is a ``ValidationException`` naming the constraint;
* input that is not JSON is ``InvalidExecutionInput`` (HTTP 400).
"""

from __future__ import annotations

import json
from typing import Any

from moto.stepfunctions.exceptions import InvalidExecutionInput, ValidationException
from moto.stepfunctions.parser.models import StepFunctionsParserBackend

from sfn_workbench.localcloud import patches
from sfn_workbench.localcloud.context import LocalCloudContext

#: StartExecution's ``input``: "Length constraints apply to the payload size, and are
#: expressed as bytes in UTF-8 encoding" (Step Functions API reference).
MAX_INPUT_BYTES = 262_144
PATCH_TARGETS: tuple[patches.Target, ...] = ((StepFunctionsParserBackend, "start_execution"),)


def check_input(execution_input: str | None) -> None:
    """Raise what Step Functions answers for an input it refuses; None (no input) is ``{}``."""
    if execution_input is None:
        return
    if len(execution_input.encode()) > MAX_INPUT_BYTES:
        raise ValidationException(
            "1 validation error detected: Value at 'input' failed to satisfy constraint: "
            f"Member must have length less than or equal to {MAX_INPUT_BYTES}"
        )
    try:
        json.loads(execution_input)
    except ValueError as exc:
        raise InvalidExecutionInput(f"Invalid State Machine Execution Input: '{exc}'") from None


def install(ctx: LocalCloudContext) -> None:
    patches.wrap(StepFunctionsParserBackend, "start_execution", _checked_start_execution)


def _checked_start_execution(original: Any) -> Any:
    def start_execution(self: Any, state_machine_arn: str, name: Any = None, execution_input: Any = None,
                        trace_header: Any = None) -> Any:  # fmt: skip
        check_input(execution_input)
        return original(self, state_machine_arn, name, execution_input, trace_header)

    return start_execution
