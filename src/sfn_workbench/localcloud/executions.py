"""Read executions back: status, label, confidence, error, duration and per-state timings.

Works against any Step Functions endpoint (the local cloud or AWS): it only uses
``list_executions``, ``describe_execution`` and ``get_execution_history``.
"""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

TERMINAL = {"SUCCEEDED", "FAILED", "TIMED_OUT", "ABORTED"}


@dataclass
class ExecutionSummary:
    name: str
    arn: str
    status: str
    key: str | None = None
    label: str | None = None
    confidence: float | None = None
    error: str | None = None
    cause: str | None = None
    duration_s: float | None = None
    state_seconds: dict[str, float] = field(default_factory=dict)

    @property
    def outcome(self) -> str:
        if self.status == "SUCCEEDED":
            return "confident"
        if self.error == "LowConfidenceError":
            return "low_confidence"
        return "running" if self.status == "RUNNING" else "error"


def summarise(sfn: Any, execution_arn: str, *, history: bool = False) -> ExecutionSummary:
    d = sfn.describe_execution(executionArn=execution_arn)
    summary = ExecutionSummary(name=d["name"], arn=execution_arn, status=d["status"])
    if "stopDate" in d:
        summary.duration_s = (d["stopDate"] - d["startDate"]).total_seconds()
    summary.key = _input_key(d.get("input"))
    if d["status"] == "SUCCEEDED" and d.get("output"):
        output = json.loads(d["output"])
        if isinstance(output, dict):
            summary.label, summary.confidence = output.get("label"), output.get("confidence")
    summary.error, summary.cause = d.get("error"), d.get("cause")
    if history or d["status"] != "SUCCEEDED":
        events = _history(sfn, execution_arn)
        summary.state_seconds = state_durations(events)
        if d["status"] == "FAILED":
            summary.label, summary.confidence = _classified_before_failure(events)
    return summary


def _input_key(raw: str | None) -> str | None:
    try:
        data = json.loads(raw or "{}")
    except json.JSONDecodeError:
        return None
    if not isinstance(data, dict):  # a JSON string, array or null: the execution failed by name, no key
        return None
    if "s3_key" in data:
        return str(data["s3_key"])
    obj = data.get("detail", {}).get("object", {})
    return str(obj["key"]) if "key" in obj else None


def _history(sfn: Any, execution_arn: str) -> list[dict[str, Any]]:
    events: list[dict[str, Any]] = []
    kwargs: dict[str, Any] = {"executionArn": execution_arn, "maxResults": 1000}
    while True:
        page = sfn.get_execution_history(**kwargs)
        events += page["events"]
        if not page.get("nextToken"):
            return events
        kwargs["nextToken"] = page["nextToken"]


def state_durations(events: Iterable[dict[str, Any]]) -> dict[str, float]:
    """Seconds spent in each state, from StateEntered to StateExited (retries included)."""
    entered: dict[str, Any] = {}
    spent: dict[str, float] = defaultdict(float)
    for event in events:
        if event["type"].endswith("StateEntered"):
            details = event.get("stateEnteredEventDetails", {})
            entered[details.get("name", "?")] = event["timestamp"]
        elif event["type"].endswith("StateExited"):
            name = event.get("stateExitedEventDetails", {}).get("name", "?")
            if name in entered:
                spent[name] += (event["timestamp"] - entered.pop(name)).total_seconds()
    for name, start in entered.items():  # a state that failed never exits: count until the last event
        last = max(e["timestamp"] for e in events) if events else start
        spent[name] += (last - start).total_seconds()
    return dict(spent)


def _classified_before_failure(events: list[dict[str, Any]]) -> tuple[str | None, float | None]:
    """Label and confidence of a run that failed after classify (LowConfidenceError)."""
    for event in reversed(events):
        if event["type"] == "TaskStateExited" and event["stateExitedEventDetails"].get("name") == "Classify":
            output = json.loads(event["stateExitedEventDetails"].get("output") or "{}")
            return output.get("label"), output.get("confidence")
    return None, None


def list_execution_arns(sfn: Any, state_machine_arn: str) -> list[str]:
    arns: list[str] = []
    for page in sfn.get_paginator("list_executions").paginate(stateMachineArn=state_machine_arn):
        arns += [e["executionArn"] for e in page["executions"]]
    return arns


def tally(summaries: Iterable[ExecutionSummary]) -> dict[str, Any]:
    """Counts by outcome and by label, and the slowest state on average."""
    summaries = list(summaries)
    by_state: dict[str, list[float]] = defaultdict(list)
    for s in summaries:
        for state, seconds in s.state_seconds.items():
            by_state[state].append(seconds)
    mean = {state: sum(v) / len(v) for state, v in by_state.items()}
    return {
        "total": len(summaries),
        "outcomes": dict(Counter(s.outcome for s in summaries)),
        "errors": dict(Counter(s.error for s in summaries if s.outcome == "error")),
        "labels": dict(sorted(Counter(s.label for s in summaries if s.label is not None).items())),
        "mean_state_seconds": dict(sorted(mean.items(), key=lambda kv: -kv[1])),
        "slowest_state": max(mean, key=lambda k: mean[k]) if mean else None,
    }
