"""The README's by-hand sequence runs exactly as written, and every CLI hint names a command that works."""

from __future__ import annotations

import io
import json
import os
import re
import subprocess
import zlib
from collections.abc import Iterator
from pathlib import Path

import pytest
from PIL import Image
from typer.testing import CliRunner

from cloud_helpers import wait_terminal
from sfn_workbench.cli import app
from sfn_workbench.localcloud import control
from support import ROOT

runner = CliRunner()


def said(output: str) -> str:
    """The output with rich's line wrapping undone."""
    return " ".join(output.split())


def readme_block(heading: str) -> str:
    """The first ```sh block after ``heading`` in README.md."""
    section = (ROOT / "README.md").read_text().split(heading, 1)[1]
    found = re.search(r"```sh\n(.*?)```", section, re.S)
    assert found, f"no sh block under {heading!r}"
    return found.group(1)


@pytest.mark.timeout(900)
def test_the_readme_by_hand_sequence_runs_as_written(tmp_path: Path) -> None:
    """up --backend both, env, seed, upload, run --backend sagemaker, executions, logs, batch, down."""
    script = tmp_path / "by_hand.sh"
    script.write_text(readme_block("## The local cloud by hand"))
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env |= {"SFN_STATE_DIR": str(tmp_path / "state"), "COLUMNS": "200"}
    try:
        done = subprocess.run(
            ["bash", "-euo", "pipefail", str(script)],
            check=False,
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=840,
        )
    finally:  # whatever happened, leave no local cloud behind
        cloud = control.find(tmp_path / "state")
        if cloud is not None:
            cloud.stop()
    out = done.stdout + done.stderr
    assert done.returncode == 0, out[-4000:]
    assert re.search(r"seeded 359 test images at s3://\S+/test/ \(litert backend\)", out), out[-4000:]
    assert re.search(r"seeded 359 test images at s3://\S+/test/ \(sagemaker backend\)", out), out[-4000:]
    assert re.search(r"│ executions\s+│ 20\s", out), "run --count 20 --backend sagemaker ran 20 executions"
    assert re.search(r"│ items\s+│ 359\s", out), "the batch classified the seeded split"
    assert "stopped the local cloud" in out


def test_a_backend_that_is_not_deployed_names_the_command_that_deploys_it(cloud: control.LocalCloud) -> None:
    result = runner.invoke(app, ["run", "--backend", "sagemaker", "--state-dir", str(cloud.ctx.state_dir)])
    assert result.exit_code == 1
    assert "the sagemaker backend is not deployed in this local cloud (deployed: litert)" in said(result.output)
    assert "`sfn-inference up --backend sagemaker`" in said(result.output)


def test_an_unknown_backend_lists_the_choices(cloud: control.LocalCloud) -> None:
    result = runner.invoke(app, ["seed", "--backend", "tflite", "--state-dir", str(cloud.ctx.state_dir)])
    assert result.exit_code == 1
    assert "unknown backend 'tflite': choose litert, sagemaker or both" in said(result.output)


@pytest.fixture(scope="module")
def grown(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[control.LocalCloud, str]]:
    """`up --backend litert`, then `up --backend both` while it runs: the second call's output."""
    state = str(tmp_path_factory.mktemp("grown") / "state")
    try:
        first = runner.invoke(app, ["up", "--detach", "--backend", "litert", "--state-dir", state])
        assert first.exit_code == 0, first.output
        second = runner.invoke(app, ["up", "--backend", "both", "--state-dir", state])
        assert second.exit_code == 0, second.output
        running = control.find(Path(state))
        assert running is not None
        yield running, said(second.output)
    finally:
        down = runner.invoke(app, ["down", "--state-dir", state])
        assert down.exit_code == 0, down.output


@pytest.mark.timeout(300)
def test_up_deploys_a_missing_backend_into_the_running_cloud(grown: tuple[control.LocalCloud, str]) -> None:
    """The hint above must work: `up` while a cloud runs deploys what it lacks instead of refusing."""
    cloud, output = grown
    assert "a local cloud is already running" in output
    assert "the litert backend is deployed already" in output
    assert "deployed stack sfn-inference-sagemaker" in output
    assert cloud.deployed_stacks() == sorted(control.STACKS.values())


def png_of_size(size: int) -> bytes:
    """A valid 32x32 PNG padded with an ancillary chunk to ``size`` bytes."""
    out = io.BytesIO()
    Image.open(ROOT / "models/digits/reference/7_00017.png").save(out, "PNG")
    data = out.getvalue()
    chunk = b"zPAD" + b"\0" * (size - len(data) - 12)
    padding = (len(chunk) - 4).to_bytes(4, "big") + chunk + zlib.crc32(chunk).to_bytes(4, "big")
    return data[:-12] + padding + data[-12:]


@pytest.mark.timeout(300)
def test_an_image_over_6_mb_is_refused_by_name_on_the_sagemaker_backend(grown: tuple[control.LocalCloud, str]) -> None:
    """It used to reach the endpoint and fail as "model server is not reachable: Broken pipe"."""
    cloud, _ = grown
    outputs = cloud.stack(control.STACKS["sagemaker"])["outputs"]
    bucket, s3, sfn = outputs["BucketName"], cloud.client("s3"), cloud.client("stepfunctions")
    big = png_of_size(7 * 1024 * 1024)
    s3.put_object(Bucket=bucket, Key="test/big.png", Body=big)
    execution = sfn.start_execution(
        stateMachineArn=outputs["StateMachineArn"], input=json.dumps({"s3_bucket": bucket, "s3_key": "test/big.png"})
    )["executionArn"]
    described = wait_terminal(sfn, execution, timeout_s=120)
    assert described["status"] == "FAILED"
    assert described["error"] == "PayloadTooLargeError", described.get("cause")
    assert f"the image is {len(big):,} bytes" in json.loads(described["cause"])["errorMessage"]
