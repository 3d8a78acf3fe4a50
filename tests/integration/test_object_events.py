"""S3 -> EventBridge: exactly one "Object Created" per object version, with AWS's ``reason``."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import uuid
from typing import Any

import pytest

from cloud_helpers import executions_of, wait_for_execution_of
from support import BUNDLE_DIR

REFERENCE = BUNDLE_DIR / "reference"
AWS = shutil.which("aws", path=os.path.dirname(sys.executable))


def reasons(sfn: Any, state_machine: str, key: str) -> list[str]:
    wait_for_execution_of(sfn, state_machine, key)
    return [json.loads(e["input"])["detail"]["reason"] for e in executions_of(sfn, state_machine, key)]


@pytest.mark.skipif(AWS is None, reason="awscli is in the local extra")
def test_a_multipart_upload_by_the_aws_cli_starts_one_execution(cloud, bucket, state_machine, sfn, tmp_path) -> None:
    big = tmp_path / "big.png"
    big.write_bytes(os.urandom(9 * 1024 * 1024))  # over the CLI's 8 MB multipart threshold
    key = f"incoming/multipart-{uuid.uuid4().hex[:6]}.png"
    subprocess.run(
        [str(AWS), "--endpoint-url", cloud.ctx.endpoint_url, "s3", "cp", str(big), f"s3://{bucket}/{key}"],
        env={**os.environ, **cloud.ctx.aws_env()}, check=True, capture_output=True, timeout=120,
    )  # fmt: skip
    assert cloud.client("s3").head_object(Bucket=bucket, Key=key)["ETag"].strip('"').endswith("-2"), "two parts"
    assert reasons(sfn, state_machine, key) == ["CompleteMultipartUpload"]


def test_put_and_copy_each_start_one_execution_with_their_reason(s3, bucket, state_machine, sfn) -> None:
    source = f"incoming/put-{uuid.uuid4().hex[:6]}.png"
    s3.put_object(Bucket=bucket, Key=source, Body=(REFERENCE / "1_00056.png").read_bytes())
    assert reasons(sfn, state_machine, source) == ["PutObject"]
    copy = f"incoming/copy-{uuid.uuid4().hex[:6]}.png"
    s3.copy_object(Bucket=bucket, Key=copy, CopySource={"Bucket": bucket, "Key": source})
    assert reasons(sfn, state_machine, copy) == ["CopyObject"]
