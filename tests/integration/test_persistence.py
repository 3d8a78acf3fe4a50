"""`sfn-inference down` then `up` keeps the S3 objects, says what it does not keep; `up --fresh` starts empty."""

from __future__ import annotations

import io
import os
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

from boto3.s3.transfer import TransferConfig

from cloud_helpers import wait_for_execution_of
from sfn_workbench.localcloud import control
from support import BUNDLE_DIR, ROOT

MB = 1024 * 1024


def cli(*args: str) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "sfn_workbench.cli", *args],
        cwd=ROOT, capture_output=True, text=True, timeout=180, check=False,
        env={**os.environ, "COLUMNS": "200"},
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    return " ".join(done.stdout.split())  # rich wraps lines: compare words


def snapshot(s3: Any, bucket: str, keys: list[str]) -> dict[str, tuple[Any, ...]]:
    out = {}
    for key in keys:
        got = s3.get_object(Bucket=bucket, Key=key)
        out[key] = (got["Body"].read(), got["ETag"], got["ContentType"], got["Metadata"], got["LastModified"])
    return out


def test_down_then_up_keeps_every_object_and_fresh_forgets_them(tmp_path: Path) -> None:
    state = str(tmp_path / "state")
    assert "restored" not in cli("up", "--detach", "--state-dir", state)
    cloud = control.require(Path(state))
    stack = cloud.stack(control.STACKS["litert"])
    bucket, state_machine = stack["outputs"]["BucketName"], stack["outputs"]["StateMachineArn"]
    s3, sfn = cloud.client("s3"), cloud.client("stepfunctions")
    upload = f"incoming/kept-{uuid.uuid4().hex[:6]}.png"
    s3.put_object(Bucket=bucket, Key=upload, Body=(BUNDLE_DIR / "reference" / "2_00012.png").read_bytes())
    s3.put_object(Bucket=bucket, Key="results/run/summary.json", Body=b'{"items": 1}',
                  ContentType="application/json", Metadata={"owner": "batch"})  # fmt: skip
    s3.upload_fileobj(io.BytesIO(os.urandom(6 * MB)), bucket, "test/big.bin",
                      Config=TransferConfig(multipart_threshold=5 * MB, multipart_chunksize=5 * MB))  # fmt: skip
    keys = [upload, "results/run/summary.json", "test/big.bin"]
    before = snapshot(s3, bucket, keys)
    assert before["test/big.bin"][1].endswith('-2"'), "a multipart ETag"
    [execution] = wait_for_execution_of(sfn, state_machine, upload)
    assert execution["status"] == "SUCCEEDED"

    down = cli("down", "--state-dir", state)
    # The three objects, and the capture record of the upload's inference (flushed on the way down).
    assert "kept 4 S3 object(s)" in down and "come back on the next `up`" in down
    assert "not kept: execution history" in down

    up = cli("up", "--detach", "--state-dir", state)
    assert "restored 4 S3 object(s)" in up and "not kept from the last run: execution history" in up
    cloud = control.require(Path(state))
    s3, sfn = cloud.client("s3"), cloud.client("stepfunctions")
    try:
        assert snapshot(s3, bucket, keys) == before, "bytes, ETag, Content-Type, metadata and LastModified"
        assert s3.list_objects_v2(Bucket=bucket, Prefix="captures/")["KeyCount"] == 1
        time.sleep(1.0)
        assert sfn.list_executions(stateMachineArn=state_machine)["executions"] == [], (
            "history is not kept, and a restored upload starts no execution"
        )
        # The restored bucket is the stack's again: a new upload still triggers the pipeline.
        again = f"incoming/after-{uuid.uuid4().hex[:6]}.png"
        s3.put_object(Bucket=bucket, Key=again, Body=(BUNDLE_DIR / "reference" / "2_00012.png").read_bytes())
        assert wait_for_execution_of(sfn, state_machine, again)[0]["status"] == "SUCCEEDED"
    finally:
        cli("down", "--state-dir", state)

    assert "started fresh" in cli("up", "--detach", "--fresh", "--state-dir", state)
    cloud = control.require(Path(state))
    try:
        assert cloud.client("s3").list_objects_v2(Bucket=bucket).get("KeyCount") == 0
    finally:
        cli("down", "--state-dir", state)
