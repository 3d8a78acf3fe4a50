"""The drift monitor on the local cloud: deployed with its schedule, run now by the CLI, reports in S3."""

from __future__ import annotations

import base64
import json
import subprocess
import sys
from typing import Any

from cloud_helpers import function_name
from support import BUNDLE_DIR

REFERENCE = BUNDLE_DIR / "reference"


def test_the_schedule_is_deployed_as_an_eventbridge_rate_rule(cloud, stack) -> None:
    rules = cloud.client("events").list_rules()["Rules"]
    [rule] = [r for r in rules if r.get("ScheduleExpression")]
    assert rule["ScheduleExpression"] == "rate(1 hour)"
    [target] = cloud.client("events").list_targets_by_rule(Rule=rule["Name"])["Targets"]
    assert target["Arn"].endswith(function_name(stack, "MonitorFunction"))


def test_the_cli_runs_the_monitor_now_and_the_reports_land_in_s3(cloud, stack, s3, bucket) -> None:
    lam = cloud.client("lambda")
    classify = function_name(stack, "ClassifyFunction")
    for name in sorted(p.name for p in REFERENCE.glob("[0-9]_*.png")) * 2:  # 40 confident inferences
        event = {"s3_bucket": "b", "s3_key": name, "content_type": "image/png",
                 "image_data": base64.b64encode((REFERENCE / name).read_bytes()).decode()}  # fmt: skip
        assert "FunctionError" not in lam.invoke(FunctionName=classify, Payload=json.dumps(event))
    env = {**cloud.ctx.aws_env(), "SFN_STATE_DIR": str(cloud.ctx.state_dir), "PATH": "/usr/bin:/bin", "COLUMNS": "200"}
    report: dict[str, Any] = {}
    for _ in range(20):  # the captures reach S3 within seconds (log publisher + compactor)
        out = subprocess.run(
            [sys.executable, "-m", "sfn_workbench.cli", "monitor", "--window", "10"],
            capture_output=True, text=True, env=env, timeout=120, check=False,
        )  # fmt: skip
        assert out.returncode == 0, out.stdout + out.stderr
        listed = s3.list_objects_v2(Bucket=bucket, Prefix="monitoring/")["Contents"]
        report = json.loads(
            s3.get_object(
                Bucket=bucket,
                Key=max(listed, key=lambda o: o["LastModified"])["Key"].rsplit("/", 1)[0] + "/report.json",
            )["Body"].read()
        )
        if report["item_count"] >= 40:
            break
    assert report["item_count"] >= 40, report
    assert report["status"] in {"ok", "violations"}, "40 inferences are enough for a verdict"
    assert {c["name"] for c in report["checks"]} >= {"label_drift", "confidence_drift", "low_confidence_share"}
    assert "inferences of" in out.stdout and "reports: s3://" in out.stdout
