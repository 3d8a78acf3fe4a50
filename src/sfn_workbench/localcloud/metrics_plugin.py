"""Plugin: what CloudWatch does with metrics that moto only stores.

* **Embedded metric format**: a function's log line with an ``_aws.CloudWatchMetrics``
  directive (Powertools' ``Metrics``) becomes metric data, as CloudWatch Logs extracts it.
* **Step Functions' metrics**: ``ExecutionsStarted``, ``ExecutionsSucceeded``,
  ``ExecutionsFailed``, ``ExecutionsTimedOut``, ``ExecutionsAborted`` and ``ExecutionTime``
  (ms) under ``AWS/States`` with the ``StateMachineArn`` dimension, once per execution.
* **Alarms**: every metric alarm is evaluated every few seconds over its last
  ``EvaluationPeriods`` x ``Period``; a change of state is recorded as CloudWatch records it
  and the alarm's actions are published to their SNS topics with CloudWatch's message.

Nothing of moto's is patched: the plugin reads moto's backends and calls their public methods.
"""

from __future__ import annotations

import json
import logging
import math
import threading
import time
from collections.abc import Callable, Iterable
from datetime import UTC, datetime, timedelta
from typing import Any

from moto.cloudwatch.models import cloudwatch_backends
from moto.sns.models import sns_backends
from moto.stepfunctions.responses import get_backend as stepfunctions_backend

from sfn_workbench.localcloud import patches
from sfn_workbench.localcloud.context import LocalCloudContext

PATCH_TARGETS: tuple[patches.Target, ...] = ()
EVALUATE_EVERY_S = 2.0
_OPERATORS: dict[str, Callable[[float, float], bool]] = {
    "GreaterThanOrEqualToThreshold": lambda v, t: v >= t,
    "GreaterThanThreshold": lambda v, t: v > t,
    "LessThanThreshold": lambda v, t: v < t,
    "LessThanOrEqualToThreshold": lambda v, t: v <= t,
}
_STATUS_METRICS = {
    "SUCCEEDED": "ExecutionsSucceeded",
    "FAILED": "ExecutionsFailed",
    "TIMED_OUT": "ExecutionsTimedOut",
    "ABORTED": "ExecutionsAborted",
}
log = logging.getLogger(__name__)


# --- embedded metric format ---------------------------------------------------------------------------


def emf_metric_data(line: str) -> list[tuple[str, dict[str, Any]]]:
    """``(namespace, MetricDatum)`` for each metric an EMF log line declares; [] for any other line."""
    if '"_aws"' not in line:
        return []
    try:
        document = json.loads(line)
        directives = document["_aws"]["CloudWatchMetrics"]
        when = _naive(datetime.fromtimestamp(int(document["_aws"]["Timestamp"]) / 1000, UTC))
    except (ValueError, KeyError, TypeError):
        return []
    data: list[tuple[str, dict[str, Any]]] = []
    for directive in directives:
        for dimension_set in directive.get("Dimensions", [[]]):
            dimensions = [{"Name": d, "Value": str(document[d])} for d in dimension_set if d in document]
            for metric in directive.get("Metrics", []):
                values = document.get(metric["Name"])
                values = values if isinstance(values, list) else [values]
                numbers = [float(v) for v in values if isinstance(v, int | float) and math.isfinite(v)]
                if numbers:
                    datum = {"MetricName": metric["Name"], "Values": numbers, "Dimensions": dimensions,
                             "Timestamp": when, "Unit": metric.get("Unit", "None")}  # fmt: skip
                    data.append((str(directive["Namespace"]), datum))
    return data


class MetricsSink:
    """Turns log lines into metric data in moto's CloudWatch (what CloudWatch Logs does with EMF)."""

    def __init__(self, ctx: LocalCloudContext) -> None:
        self.ctx = ctx

    def __call__(self, group: str, lines: Iterable[str]) -> None:
        backend = cloudwatch_backends[self.ctx.account_id][self.ctx.region]
        for line in lines:
            for namespace, datum in emf_metric_data(line):
                backend.put_metric_data(namespace, [datum])


# --- Step Functions ------------------------------------------------------------------------------------


class ExecutionMetrics:
    """Publishes each execution's AWS/States metrics once: started when seen, the outcome when it ends."""

    def __init__(self, ctx: LocalCloudContext) -> None:
        self.ctx = ctx
        self._started: set[str] = set()
        self._finished: set[str] = set()

    def tick(self) -> None:
        backend = stepfunctions_backend(self.ctx.account_id, self.ctx.region)
        data: list[dict[str, Any]] = []
        for machine in list(backend.state_machines):
            dimensions = [{"Name": "StateMachineArn", "Value": machine.arn}]
            for execution in list(machine.executions):
                arn = str(getattr(execution, "exec_arn", None) or getattr(execution, "execution_arn", ""))
                if arn not in self._started:
                    self._started.add(arn)
                    data.append(_datum("ExecutionsStarted", 1, dimensions, _utc(execution.start_date)))
                status = _status(execution)
                if status in _STATUS_METRICS and arn not in self._finished:
                    self._finished.add(arn)
                    stopped = _utc(execution.stop_date) if execution.stop_date else datetime.now(UTC)
                    elapsed_ms = (stopped - _utc(execution.start_date)).total_seconds() * 1000
                    data.append(_datum(_STATUS_METRICS[status], 1, dimensions, stopped))
                    data.append(_datum("ExecutionTime", elapsed_ms, dimensions, stopped, "Milliseconds"))
        if data:
            cloudwatch_backends[self.ctx.account_id][self.ctx.region].put_metric_data("AWS/States", data)


def _status(execution: Any) -> str:
    status = getattr(execution, "exec_status", None) or getattr(execution, "status", None)
    return str(getattr(status, "value", status) or "")


def _utc(when: datetime) -> datetime:
    return when.replace(tzinfo=UTC) if when.tzinfo is None else when.astimezone(UTC)


def _datum(
    name: str, value: float, dimensions: list[dict[str, str]], when: datetime, unit: str = "Count"
) -> dict[str, Any]:
    return {"MetricName": name, "Value": value, "Dimensions": dimensions, "Timestamp": _naive(when), "Unit": unit}


def _naive(when: datetime) -> datetime:
    """moto keeps metric timestamps as naive UTC (its utcnow); an aware one breaks its comparisons."""
    return when.astimezone(UTC).replace(tzinfo=None) if when.tzinfo else when


# --- alarms -------------------------------------------------------------------------------------------


class AlarmEvaluator:
    def __init__(self, ctx: LocalCloudContext) -> None:
        self.ctx = ctx

    def tick(self, now: datetime | None = None) -> list[str]:
        """Evaluate every metric alarm; the names of those whose state changed."""
        now = now or datetime.now(UTC)
        backend = cloudwatch_backends[self.ctx.account_id][self.ctx.region]
        changed = []
        for alarm in list(backend.alarms.values()):
            if not alarm.metric_name or alarm.statistic is None:
                continue  # metric-math and composite alarms are not evaluated locally
            state, reason = self._evaluate(backend, alarm, now)
            if state != alarm.state_value:
                old = alarm.state_value
                data = json.dumps({"version": "1.0", "queryDate": now.isoformat(), "evaluatedDatapoints": []})
                alarm.update_state(reason, data, state)
                changed.append(alarm.name)
                self._notify(alarm, old, state, reason, now)
        return changed

    def _evaluate(self, backend: Any, alarm: Any, now: datetime) -> tuple[str, str]:
        period = int(alarm.period)
        span = timedelta(seconds=period * int(alarm.evaluation_periods))
        end = _naive(now)
        stats = backend.get_metric_statistics(
            alarm.namespace, alarm.metric_name, end - span, end + timedelta(seconds=1), period,
            [alarm.statistic], [{"Name": d.name, "Value": d.value} for d in alarm.dimensions],
        )  # fmt: skip
        values = [float(s.get_statistics_for_type(alarm.statistic)) for s in stats]
        breaching = [_OPERATORS[alarm.comparison_operator](v, float(alarm.threshold)) for v in values]
        needed = int(alarm.datapoints_to_alarm or alarm.evaluation_periods)
        if not values:
            treat = alarm.treat_missing_data or "missing"
            if treat == "breaching":
                return "ALARM", "Threshold Crossed: no datapoints were received (treated as breaching)."
            if treat == "notBreaching":
                return "OK", "Threshold Crossed: no datapoints were received (treated as not breaching)."
            return "INSUFFICIENT_DATA", "Insufficient Data: no datapoints were received."
        if sum(breaching) >= min(needed, len(values)):
            return "ALARM", (
                f"Threshold Crossed: {sum(breaching)} datapoint(s) [{', '.join(f'{v:g}' for v in values)}] "
                f"were {alarm.comparison_operator} the threshold ({float(alarm.threshold):g})."
            )
        return "OK", f"Threshold Crossed: datapoints [{', '.join(f'{v:g}' for v in values)}] were not breaching."

    def _notify(self, alarm: Any, old: str, new: str, reason: str, now: datetime) -> None:
        actions = {"ALARM": alarm.alarm_actions, "OK": alarm.ok_actions}.get(new) or []
        if not alarm.actions_enabled:
            return
        message = json.dumps(
            {
                "AlarmName": alarm.name,
                "AlarmDescription": alarm.description,
                "AWSAccountId": self.ctx.account_id,
                "NewStateValue": new,
                "NewStateReason": reason,
                "StateChangeTime": now.isoformat(timespec="milliseconds").replace("+00:00", "+0000"),
                "Region": self.ctx.region,
                "AlarmArn": alarm.alarm_arn,
                "OldStateValue": old,
                "Trigger": {
                    "MetricName": alarm.metric_name,
                    "Namespace": alarm.namespace,
                    "Statistic": str(alarm.statistic).upper(),
                    "Dimensions": [{"name": d.name, "value": d.value} for d in alarm.dimensions],
                    "Period": int(alarm.period),
                    "EvaluationPeriods": int(alarm.evaluation_periods),
                    "ComparisonOperator": alarm.comparison_operator,
                    "Threshold": float(alarm.threshold),
                    "TreatMissingData": alarm.treat_missing_data,
                },
            }
        )
        sns = sns_backends[self.ctx.account_id][self.ctx.region]
        for arn in actions:
            if arn.split(":")[2] == "sns":
                try:
                    sns.publish(message, arn=arn, subject=f'{new}: "{alarm.name}" in {self.ctx.region}')
                except Exception:
                    log.exception("publishing %s's state change to %s failed", alarm.name, arn)


def install(ctx: LocalCloudContext) -> MetricsSink:
    sink = MetricsSink(ctx)
    executions, alarms = ExecutionMetrics(ctx), AlarmEvaluator(ctx)

    def loop() -> None:
        while True:
            time.sleep(EVALUATE_EVERY_S)
            for tick in (executions.tick, alarms.tick):
                try:
                    tick()
                except Exception:  # a resource changed mid-read: next time
                    log.exception("metrics tick failed")

    threading.Thread(target=loop, name="metrics", daemon=True).start()
    return sink
