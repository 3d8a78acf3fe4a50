"""EventBridge rate schedules fire on the local cloud, with the Scheduled Event shape, once per period."""

from __future__ import annotations

import json
from pathlib import Path

import boto3
from moto import mock_aws

from sfn_workbench.localcloud.context import LocalCloudContext
from sfn_workbench.localcloud.schedule_plugin import Scheduler, period_of

FUNCTION = "arn:aws:lambda:us-east-1:123456789012:function:monitor"


def test_rate_expressions_and_cron_is_not_run() -> None:
    assert period_of("rate(1 hour)") == 3600
    assert period_of("rate(5 minutes)") == 300
    assert period_of("rate(2 days)") == 172800
    assert period_of("cron(0 * * * ? *)") is None


@mock_aws
def test_a_rate_rule_fires_once_per_period_with_a_scheduled_event() -> None:
    events = boto3.client("events", region_name="us-east-1")
    rule = events.put_rule(Name="hourly", ScheduleExpression="rate(5 minutes)")["RuleArn"]
    events.put_targets(Rule="hourly", Targets=[{"Id": "monitor", "Arn": FUNCTION}])
    events.put_rule(Name="nightly", ScheduleExpression="cron(0 3 * * ? *)")
    calls: list[tuple[str, dict[str, object]]] = []
    scheduler = Scheduler(
        LocalCloudContext("http://127.0.0.1:1", Path(".")), lambda a, p: calls.append((a, json.loads(p)))
    )
    t0 = 1_000_000.0
    assert scheduler.tick(t0) == 0, "the first run is one period after the rule appears"
    assert scheduler.tick(t0 + 299) == 0
    assert scheduler.tick(t0 + 300) == 1
    assert scheduler.tick(t0 + 301) == 0, "once per period"
    assert scheduler.tick(t0 + 600) == 1
    [(arn, event), _] = calls
    assert arn == FUNCTION
    assert event["detail-type"] == "Scheduled Event" and event["source"] == "aws.events"
    assert event["resources"] == [rule]
    events.disable_rule(Name="hourly")
    assert scheduler.tick(t0 + 900) == 0
