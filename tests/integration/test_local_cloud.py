"""The pipeline on the local cloud, over real HTTP, from the deployed template."""

from __future__ import annotations

import base64
import io
import json
import os
import shutil
import subprocess
import sys
import time
import uuid
import zipfile
from typing import Any
from urllib.parse import quote_plus

import pytest

from cloud_helpers import executions_of, function_name, wait_for_execution_of, wait_terminal
from sfn_workbench.localcloud import control
from sfn_workbench.localcloud.eventbridge_plugin import name_for
from support import BUNDLE_DIR

REFERENCE = BUNDLE_DIR / "reference"


def history(sfn: Any, arn: str) -> Any:
    return sfn.get_execution_history(executionArn=arn, maxResults=1000)["events"]


def test_upload_starts_one_execution_that_classifies_the_image(s3, sfn, bucket, state_machine) -> None:
    key = f"incoming/seven {uuid.uuid4().hex[:6]}.png"  # a space: the event carries it URL-encoded
    s3.put_object(Bucket=bucket, Key=key, Body=(REFERENCE / "7_00017.png").read_bytes())
    [execution] = wait_for_execution_of(sfn, state_machine, quote_plus(key, safe="/"))
    assert execution["status"] == "SUCCEEDED", execution.get("cause")
    output = json.loads(execution["output"])
    assert output["s3_key"] == key
    assert output["label"] == "7"
    assert output["confidence"] > 0.93
    event = json.loads(execution["input"])
    assert event["detail-type"] == "Object Created"
    assert execution["name"] == name_for(event), "named after the object, not None"


def test_low_confidence_fails_with_a_named_error_and_readable_cause(s3, sfn, bucket, state_machine) -> None:
    key = f"incoming/blend-{uuid.uuid4().hex[:6]}.png"
    s3.put_object(Bucket=bucket, Key=key, Body=(REFERENCE / "low_confidence.png").read_bytes())
    [execution] = wait_for_execution_of(sfn, state_machine, key)
    assert execution["status"] == "FAILED"
    assert execution["error"] == "LowConfidenceError"
    assert "below the threshold 0.9300" in execution["cause"]


def test_missing_object_fails_with_a_named_error(sfn, bucket, state_machine) -> None:
    case = {"s3_bucket": bucket, "s3_key": "test/does-not-exist.png"}
    arn = sfn.start_execution(
        stateMachineArn=state_machine, name=f"missing-{uuid.uuid4().hex[:8]}", input=json.dumps(case)
    )
    execution = wait_terminal(sfn, arn["executionArn"])
    assert execution["status"] == "FAILED"
    assert execution["error"] == "ObjectNotFoundError"
    assert "test/does-not-exist.png" in execution["cause"]


def test_the_same_s3_event_delivered_twice_starts_one_execution(cloud, sfn, bucket, state_machine) -> None:
    key = f"incoming/dup-{uuid.uuid4().hex[:6]}.png"
    cloud.client("s3").put_object(Bucket=bucket, Key=key, Body=(REFERENCE / "3_00023.png").read_bytes())
    [first] = wait_for_execution_of(sfn, state_machine, key)
    event = json.loads(first["input"])
    # At-least-once delivery: EventBridge hands the same S3 event over again (new envelope id).
    entry = {"Source": event["source"], "DetailType": event["detail-type"], "Detail": json.dumps(event["detail"]),
             "Resources": event["resources"]}  # fmt: skip
    result = cloud.client("events").put_events(Entries=[entry, entry])
    assert result["FailedEntryCount"] == 0
    time.sleep(1.0)
    wait_for_execution_of(sfn, state_machine, key)
    # Count every execution for the key, running or not: a duplicate still running is a duplicate.
    assert len(executions_of(sfn, state_machine, key)) == 1


def test_a_transient_lambda_service_error_is_retried(cloud, sfn, bucket, stack, state_machine) -> None:
    s3 = cloud.client("s3")
    s3.put_object(Bucket=bucket, Key="test/retry.png", Body=(REFERENCE / "0_00048.png").read_bytes())
    classify = function_name(stack, "ClassifyFunction")
    (cloud.ctx.state_dir / "faults.json").write_text(json.dumps({classify: ["ServiceException"]}))
    case = {"s3_bucket": bucket, "s3_key": "test/retry.png"}
    arn = sfn.start_execution(
        stateMachineArn=state_machine, name=f"retry-{uuid.uuid4().hex[:8]}", input=json.dumps(case)
    )["executionArn"]
    execution = wait_terminal(sfn, arn)
    assert execution["status"] == "SUCCEEDED", execution.get("cause")
    events = history(sfn, arn)
    failures = [e["taskFailedEventDetails"] for e in events if e["type"] == "TaskFailed"]
    assert [f["error"] for f in failures] == ["Lambda.ServiceException"]
    scheduled = [
        e for e in events if e["type"] == "TaskScheduled" and classify in e["taskScheduledEventDetails"]["parameters"]
    ]
    assert len(scheduled) == 2, "classify ran again after the service error"


def _deploy_sleeper(cloud: control.LocalCloud, name: str, timeout: int) -> None:
    iam = cloud.client("iam")
    statement = {"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}
    trust = {"Version": "2012-10-17", "Statement": [statement]}
    role = iam.create_role(RoleName=f"{name}-role", AssumeRolePolicyDocument=json.dumps(trust))["Role"]["Arn"]
    code = io.BytesIO()
    with zipfile.ZipFile(code, "w") as archive:
        archive.writestr(
            "app.py",
            "import time\n\n\ndef lambda_handler(event, context):\n"
            "    time.sleep(event['sleep'])\n    return {'slept': event['sleep']}\n",
        )
    cloud.client("lambda").create_function(
        FunctionName=name,
        Runtime="python3.12",
        Role=role,
        Handler="app.lambda_handler",
        Code={"ZipFile": code.getvalue()},
        Timeout=timeout,
    )


def test_a_timeout_is_reported_as_lambda_reports_it(cloud) -> None:
    _deploy_sleeper(cloud, "sleeper", timeout=1)
    lam = cloud.client("lambda")
    response = lam.invoke(FunctionName="sleeper", Payload=json.dumps({"sleep": 5}))
    assert response["FunctionError"] == "Unhandled"
    error = json.loads(response["Payload"].read())
    assert error["errorType"] == "Sandbox.Timedout"
    assert error["errorMessage"].endswith("Task timed out after 1.00 seconds")
    # The timed-out environment is gone; the next call gets a fresh one and works.
    ok = lam.invoke(FunctionName="sleeper", Payload=json.dumps({"sleep": 0}))
    assert "FunctionError" not in ok and json.loads(ok["Payload"].read()) == {"slept": 0}


def test_a_warm_environment_does_not_reload_the_model(cloud, stack) -> None:
    """The model loads at INIT; the worker's own REPORT lines count the INITs (cold starts)."""
    lam = cloud.client("lambda")
    classify = function_name(stack, "ClassifyFunction")
    log = cloud.ctx.logs_dir / f"{classify}.log"
    image = (REFERENCE / "4_00014.png").read_bytes()
    payload = {
        "s3_bucket": "b",
        "s3_key": "k.png",
        "content_type": "image/png",
        "image_data": base64.b64encode(image).decode(),
    }

    def invoke() -> None:
        out = json.loads(lam.invoke(FunctionName=classify, Payload=json.dumps(payload))["Payload"].read())
        assert out["label"] == "4"

    invoke()  # there is now at least one environment, warm
    cold_starts = log.read_text().count("Init: cold start")
    for _ in range(3):
        invoke()
    assert log.read_text().count("Init: cold start") == cold_starts, "sequential calls reuse a warm environment"
    assert log.read_text().count("REPORT RequestId") >= 4


def test_handler_errors_come_back_in_lambdas_shape(cloud, stack) -> None:
    response = cloud.client("lambda").invoke(
        FunctionName=function_name(stack, "SerializeFunction"), Payload=b'{"s3_bucket": "b"}'
    )
    assert response["FunctionError"] == "Unhandled"
    error = json.loads(response["Payload"].read())
    assert error["errorType"] == "InvalidEventError"
    assert "s3_key" in error["errorMessage"]
    assert isinstance(error["stackTrace"], list) and error["stackTrace"]


@pytest.mark.skipif(
    shutil.which("aws", path=os.path.dirname(sys.executable)) is None, reason="awscli is in the local extra"
)
def test_the_aws_cli_drives_the_pipeline(cloud, bucket, state_machine, tmp_path) -> None:
    aws = os.path.join(os.path.dirname(sys.executable), "aws")
    env = {**os.environ, **cloud.ctx.aws_env()}

    def cli(*args: str) -> Any:
        done = subprocess.run(
            [aws, "--endpoint-url", cloud.ctx.endpoint_url, "--output", "json", *args],
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
            check=True,
        )
        return json.loads(done.stdout) if done.stdout.strip() else None

    image = REFERENCE / "9_00009.png"
    subprocess.run(
        [aws, "--endpoint-url", cloud.ctx.endpoint_url, "s3", "cp", str(image), f"s3://{bucket}/test/cli.png"],
        env=env,
        check=True,
        capture_output=True,
        timeout=60,
    )
    case = json.dumps({"s3_bucket": bucket, "s3_key": "test/cli.png"})
    arn = cli(
        "stepfunctions",
        "start-execution",
        "--state-machine-arn",
        state_machine,
        "--name",
        f"cli-{uuid.uuid4().hex[:8]}",
        "--input",
        case,
    )["executionArn"]
    deadline = time.monotonic() + 60
    while (described := cli("stepfunctions", "describe-execution", "--execution-arn", arn))["status"] == "RUNNING":
        assert time.monotonic() < deadline
        time.sleep(0.2)
    assert described["status"] == "SUCCEEDED"
    assert json.loads(described["output"])["label"] == "9"
    events = cli("stepfunctions", "get-execution-history", "--execution-arn", arn)["events"]
    assert {"ExecutionStarted", "TaskSucceeded", "ExecutionSucceeded"} <= {e["type"] for e in events}
    listed = cli("stepfunctions", "list-executions", "--state-machine-arn", state_machine)["executions"]
    assert arn in {e["executionArn"] for e in listed}


def test_function_logs_reach_the_log_group_of_their_logging_config(cloud, stack) -> None:
    lam, logs = cloud.client("lambda"), cloud.client("logs")
    name = function_name(stack, "SerializeFunction")
    request_id = lam.invoke(FunctionName=name, Payload=b'{"s3_bucket": "b"}')["ResponseMetadata"]["RequestId"]
    assert request_id
    group = stack["resources"]["SerializeLogGroup"]["ref"]
    assert group == f"/sfn-inference/{stack['name']}/serialize", "the template's LoggingConfig, not /aws/lambda/"
    deadline = time.monotonic() + 10
    while True:
        messages = [e["message"] for e in logs.filter_log_events(logGroupName=group)["events"]]
        if any(m.startswith("REPORT RequestId") for m in messages) or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    assert any(m.startswith("START RequestId") for m in messages)
    assert any("InvalidEventError" in m for m in messages), "the handler's own error line is there too"
    streams = logs.describe_log_streams(logGroupName=group)["logStreams"]
    assert all("/[$LATEST]" in s["logStreamName"] for s in streams)


def test_concurrent_invocations_get_extra_environments_up_to_the_limit(cloud) -> None:
    """Five calls at once on a cloud started with max_workers=3: three environments, reused."""
    from concurrent.futures import ThreadPoolExecutor

    _deploy_sleeper(cloud, "napper", timeout=10)
    lam, logs = cloud.client("lambda"), cloud.client("logs")

    def call(_: int) -> dict[str, Any]:
        response = lam.invoke(FunctionName="napper", Payload=json.dumps({"sleep": 0.5}))
        return dict(json.loads(response["Payload"].read()))

    with ThreadPoolExecutor(max_workers=5) as pool:
        assert list(pool.map(call, range(5))) == [{"slept": 0.5}] * 5
    deadline = time.monotonic() + 10  # Lambda's log agent (and the local one) puts lines in batches
    while True:
        events = logs.filter_log_events(logGroupName="/aws/lambda/napper")["events"]
        reports = [e["message"] for e in events if e["message"].startswith("REPORT")]
        if len(reports) >= 5 or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert len(reports) == 5
    assert sum("Init: cold start" in r for r in reports) == 3, "two calls waited for a warm environment"
    streams = logs.describe_log_streams(logGroupName="/aws/lambda/napper")["logStreams"]
    assert len(streams) == cloud.ctx.max_workers_per_function == 3
