"""Lint the state machines as code: structure, substitutions, and error names."""

import json
import re
from pathlib import Path
from typing import Any

import pytest
from cfn_flip import load_yaml

import sfn_inference.core.errors as errors
from support import ROOT

STATE_MACHINES = sorted((ROOT / "statemachine").glob("*.asl.json"))
PLACEHOLDER = re.compile(r"\$\{([A-Za-z0-9_]+)\}")
#: Error names Step Functions and Lambda define themselves.
AWS_ERRORS = {
    "States.ALL",
    "States.TaskFailed",
    "States.Timeout",
    "States.HeartbeatTimeout",
    "States.Runtime",
    "States.DataLimitExceeded",
    "States.ExceedToleratedFailureThreshold",
    "States.ItemReaderFailed",
    "States.ResultWriterFailed",
    "States.Permissions",
    "Lambda.ServiceException",
    "Lambda.AWSLambdaException",
    "Lambda.SdkClientException",
    "Lambda.TooManyRequestsException",
    "Lambda.ClientExecutionTimeoutException",
    "Lambda.Unknown",
    # Lambda's errorType when the runtime process exits during an invocation (crash, kill).
    "Runtime.ExitError",
}
OUR_ERRORS = {name for name, obj in vars(errors).items() if isinstance(obj, type) and issubclass(obj, Exception)}


def walk_states(states: dict[str, Any]) -> list[tuple[str, dict[str, Any], dict[str, Any]]]:
    """Every (name, state, sibling states) pair, descending into Map and Parallel."""
    found = []
    for name, state in states.items():
        found.append((name, state, states))
        if "ItemProcessor" in state or "Iterator" in state:
            found += walk_states((state.get("ItemProcessor") or state["Iterator"])["States"])
        for branch in state.get("Branches", []):
            found += walk_states(branch["States"])
    return found


def template_substitutions() -> dict[str, set[str]]:
    template = load_yaml((ROOT / "infra" / "template.yaml").read_text())
    subs: dict[str, set[str]] = {}
    for resource in template["Resources"].values():
        props = resource.get("Properties", {})
        if "DefinitionUri" in props and isinstance(props["DefinitionUri"], str):
            path = (ROOT / "infra" / props["DefinitionUri"]).resolve()
            subs[path.name] = set(props.get("DefinitionSubstitutions", {}))
    return subs


@pytest.fixture(params=STATE_MACHINES, ids=lambda p: p.name)
def machine(request: pytest.FixtureRequest) -> tuple[Path, dict[str, Any]]:
    path: Path = request.param
    return path, json.loads(path.read_text())


def test_there_is_a_pipeline() -> None:
    assert ROOT / "statemachine" / "pipeline.asl.json" in STATE_MACHINES


def test_every_transition_target_exists(machine) -> None:
    _, asl = machine
    assert asl["StartAt"] in asl["States"]
    for name, state, siblings in walk_states(asl["States"]):
        targets = [state.get("Next"), state.get("Default")]
        targets += [c.get("Next") for c in state.get("Choices", [])]
        targets += [c.get("Next") for c in state.get("Catch", [])]
        for target in filter(None, targets):
            assert target in siblings, f"{name} -> {target} does not exist"
        terminal = state.get("End") or state["Type"] in {"Succeed", "Fail", "Choice"}
        assert terminal or "Next" in state, f"{name} neither ends nor has a Next"


def test_every_placeholder_has_a_substitution_in_the_template(machine) -> None:
    path, _ = machine
    used = set(PLACEHOLDER.findall(path.read_text()))
    declared = template_substitutions()
    assert path.name in declared, f"{path.name} is not deployed by infra/template.yaml"
    assert used <= declared[path.name], f"unsubstituted: {sorted(used - declared[path.name])}"
    assert declared[path.name] <= used, f"unused substitutions: {sorted(declared[path.name] - used)}"


def test_every_caught_or_retried_error_exists(machine) -> None:
    _, asl = machine
    for name, state, _ in walk_states(asl["States"]):
        for rule in state.get("Catch", []) + state.get("Retry", []):
            for error in rule["ErrorEquals"]:
                assert error in AWS_ERRORS | OUR_ERRORS, f"{name} names unknown error {error!r}"
        if state["Type"] == "Fail" and "Error" in state:
            assert state["Error"] in AWS_ERRORS | OUR_ERRORS, f"{name} fails with unknown {state['Error']!r}"


def test_no_arns_account_ids_or_latest(machine) -> None:
    path, _ = machine
    text = path.read_text()
    assert not re.search(r"arn:aws:(lambda|states|s3|iam)[^\"]*:\d{12}:", text)
    assert not re.search(r"\b\d{12}\b", text)
    assert "$LATEST" not in text


def test_lambda_tasks_unwrap_the_payload_and_retry_transient_errors(machine) -> None:
    _, asl = machine
    transient = {
        "Lambda.ServiceException",
        "Lambda.AWSLambdaException",
        "Lambda.SdkClientException",
        "Lambda.TooManyRequestsException",
        "Lambda.ClientExecutionTimeoutException",
    }
    tasks = [s for _, s, _ in walk_states(asl["States"]) if s.get("Resource") == "arn:aws:states:::lambda:invoke"]
    assert tasks
    for task in tasks:
        assert PLACEHOLDER.fullmatch(task["Parameters"]["FunctionName"])
        assert task.get("OutputPath") == "$.Payload" or "Payload" in str(task.get("ResultSelector"))
        retried = {e for r in task["Retry"] for e in r["ErrorEquals"]}
        assert transient <= retried
        assert all(r.get("JitterStrategy") == "FULL" and r.get("BackoffRate", 1) > 1 for r in task["Retry"])


def test_a_crashed_environment_is_retried_but_not_a_timeout_or_running_out_of_memory(machine) -> None:
    """A runtime that died (Runtime.ExitError) gets a fresh environment on the next try; a timeout or
    OOM would most likely recur (AWS reports both under Lambda.Unknown), so they are not retried."""
    _, asl = machine
    tasks = [s for _, s, _ in walk_states(asl["States"]) if s.get("Resource") == "arn:aws:states:::lambda:invoke"]
    for task in tasks:
        [crash] = [r for r in task["Retry"] if "Runtime.ExitError" in r["ErrorEquals"]]
        assert crash["ErrorEquals"] == ["Runtime.ExitError"] and crash["MaxAttempts"] <= 2
        retried = {e for r in task["Retry"] for e in r["ErrorEquals"]}
        assert not retried & {"Lambda.Unknown", "Sandbox.Timedout", "Runtime.OutOfMemory", "States.ALL"}


def test_low_confidence_has_its_own_fail_state() -> None:
    asl = json.loads((ROOT / "statemachine" / "pipeline.asl.json").read_text())
    catches = {e: c["Next"] for c in asl["States"]["Filter"]["Catch"] for e in c["ErrorEquals"]}
    low, other = asl["States"][catches["LowConfidenceError"]], asl["States"][catches["States.ALL"]]
    assert low["Type"] == other["Type"] == "Fail"
    assert low is not other
    assert low["Error"] == "LowConfidenceError"


def test_the_pipelines_catches_work_whatever_the_execution_input_is() -> None:
    """A Catch with ResultPath "$.error" cannot be applied to a JSON string, array or null input, and
    the execution ended in States.Runtime; replacing the state data with the error works for any input."""
    asl = json.loads((ROOT / "statemachine" / "pipeline.asl.json").read_text())
    for name, state, siblings in walk_states(asl["States"]):
        for catch in state.get("Catch", []):
            assert catch["ResultPath"] == "$", name
            target = siblings[catch["Next"]]
            assert target.get("CausePath") == "$.Cause" and target.get("ErrorPath", "$.Error") == "$.Error", name


def test_the_batch_checks_its_request_before_the_map() -> None:
    asl = json.loads((ROOT / "statemachine" / "batch.asl.json").read_text())
    first = asl["States"][asl["StartAt"]]
    assert first["Parameters"]["Payload"] == {
        "mode": "check",
        "request.$": "$",
        "execution.$": "$$.Execution.Name",
        "started_at.$": "$$.Execution.StartTime",
    }
    choice = asl["States"][first["Next"]]
    assert choice["Choices"] == [{"Variable": "$.empty", "BooleanEquals": True, "Next": "Report"}]
    assert choice["Default"] == "ClassifyPrefix"
