"""Metrics and alarms on the local cloud: Step Functions' metrics, EMF from the functions' logs, and an
alarm that goes to ALARM and publishes to its SNS topic, all visible through CloudWatch's real API."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from cloud_helpers import function_name, wait_terminal
from sfn_workbench.localcloud import control
from support import BUNDLE_DIR

EMAIL = "ops@example.com"
REFERENCE = BUNDLE_DIR / "reference"


@pytest.fixture(scope="module")
def alarmed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[control.LocalCloud, dict[str, Any]]]:
    """A cloud of its own, deployed with an alarm e-mail, so the template's alarm topic exists."""
    local = control.start(tmp_path_factory.mktemp("metrics-cloud"), max_workers=2)
    try:
        local.deploy("litert", {"AlarmEmail": EMAIL})
        yield local, local.stack(control.STACKS["litert"])
    finally:
        local.stop()


def metric_sum(cloud: control.LocalCloud, namespace: str, name: str, dimensions: list[dict[str, str]]) -> float:
    now = datetime.now(UTC)
    points = cloud.client("cloudwatch").get_metric_statistics(
        Namespace=namespace, MetricName=name, Dimensions=dimensions, StartTime=now - timedelta(minutes=30),
        EndTime=now + timedelta(minutes=1), Period=3600, Statistics=["Sum"],
    )["Datapoints"]  # fmt: skip
    return float(sum(p["Sum"] for p in points))


def wait_until(check: Any, timeout_s: float = 20) -> Any:
    deadline = time.monotonic() + timeout_s
    while True:
        value = check()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(0.5)


def test_failed_executions_are_counted_and_the_alarm_notifies_its_topic(alarmed) -> None:
    cloud, stack = alarmed
    sfn, sqs, sns = cloud.client("stepfunctions"), cloud.client("sqs"), cloud.client("sns")
    topic = stack["resources"]["AlarmTopic"]["ref"]
    queue = sqs.create_queue(QueueName="alarm-inbox")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=queue_arn, Attributes={"RawMessageDelivery": "true"})
    machine = stack["outputs"]["StateMachineArn"]
    for i in range(3):
        arn = sfn.start_execution(
            stateMachineArn=machine,
            name=f"missing-{i}-{uuid.uuid4().hex[:6]}",
            input=json.dumps({"s3_bucket": stack["outputs"]["BucketName"], "s3_key": "nope.png"}),
        )
        assert wait_terminal(sfn, arn["executionArn"])["status"] == "FAILED"  # fmt: skip
    dims = [{"Name": "StateMachineArn", "Value": machine}]
    assert wait_until(lambda: metric_sum(cloud, "AWS/States", "ExecutionsFailed", dims) >= 3), (
        "AWS/States ExecutionsFailed"
    )
    assert metric_sum(cloud, "AWS/States", "ExecutionsStarted", dims) >= 3
    alarm = stack["resources"]["ExecutionsFailedAlarm"]["ref"]
    state = wait_until(
        lambda: cloud.client("cloudwatch").describe_alarms(AlarmNames=[alarm])["MetricAlarms"][0]["StateValue"]
        == "ALARM"
    )
    assert state, "the alarm went to ALARM"
    messages = wait_until(lambda: sqs.receive_message(QueueUrl=queue, WaitTimeSeconds=1).get("Messages", []))
    [message] = messages
    body = json.loads(message["Body"])
    assert body["AlarmName"] == alarm and body["NewStateValue"] == "ALARM" and body["OldStateValue"] == "OK"
    assert body["Trigger"]["MetricName"] == "ExecutionsFailed"


def test_embedded_metric_format_lines_become_metric_data(alarmed) -> None:
    cloud, stack = alarmed
    monitor = function_name(stack, "MonitorFunction")
    report = json.loads(cloud.client("lambda").invoke(FunctionName=monitor, Payload=b"{}")["Payload"].read())
    assert report["status"] in {"no data", "insufficient data", "ok", "violations"}
    dims = [{"Name": "Stack", "Value": stack["name"]}, {"Name": "service", "Value": "sfn-inference"}]
    wanted = {"MonitoredInferences", "ConstraintViolations"}

    def names() -> set[str]:
        return {m["MetricName"] for m in cloud.client("cloudwatch").list_metrics(Namespace="SfnInference")["Metrics"]}

    assert wait_until(lambda: wanted <= names()), names()

    def monitored() -> list[Any]:
        now = datetime.now(UTC)
        return list(
            cloud.client("cloudwatch").get_metric_statistics(
                Namespace="SfnInference", MetricName="MonitoredInferences", Dimensions=dims,
                StartTime=now - timedelta(minutes=5), EndTime=now + timedelta(minutes=1), Period=300,
                Statistics=["SampleCount"],
            )["Datapoints"]
        )  # fmt: skip

    assert wait_until(monitored), "the monitor's EMF line is metric data with the Stack dimension"
    assert metric_sum(cloud, "SfnInference", "ConstraintViolations", dims) == 0


def test_the_functions_metrics_count_a_known_run_exactly(alarmed) -> None:
    """N uploads, K of them low-confidence blends: Inferences sums to N and LowConfidence to K."""
    cloud, stack = alarmed
    s3, sfn = cloud.client("s3"), cloud.client("stepfunctions")
    bucket, machine = stack["outputs"]["BucketName"], stack["outputs"]["StateMachineArn"]
    confident = sorted(REFERENCE.glob("[0-9]_*.png"))[:6]
    blend = REFERENCE / "low_confidence.png"
    for i, path in enumerate([*confident, blend, blend]):
        s3.put_object(Bucket=bucket, Key=f"incoming/known-run/{i}.png", Body=path.read_bytes())
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        finished = [e for e in sfn.list_executions(stateMachineArn=machine)["executions"] if e["status"] != "RUNNING"]
        if sum("known-run" in sfn.describe_execution(executionArn=e["executionArn"])["input"] for e in finished) == 8:
            break
        time.sleep(0.5)
    watch = cloud.client("cloudwatch")

    def total(name: str) -> float:
        listed = watch.list_metrics(Namespace="SfnInference", MetricName=name)["Metrics"]
        series = {tuple(sorted((d["Name"], d["Value"]) for d in m["Dimensions"])) for m in listed}
        return sum(metric_sum(cloud, "SfnInference", name, [{"Name": k, "Value": v} for k, v in s]) for s in series)

    assert wait_until(lambda: total("Inferences") == 8), f"Inferences: {total('Inferences')}"
    assert wait_until(lambda: total("LowConfidence") == 2), f"LowConfidence: {total('LowConfidence')}"
    [predictions] = [m for m in watch.list_metrics(Namespace="SfnInference", MetricName="Predictions")["Metrics"]
                     if {"Name": "Label", "Value": "0"} in m["Dimensions"]][:1] or [None]  # fmt: skip
    assert predictions is not None and {d["Name"] for d in predictions["Dimensions"]} >= {"Model", "ModelVersion"}
