"""Execution environments end as Lambda ends them, and leave nothing behind in the server."""

from __future__ import annotations

import contextlib
import io
import json
import os
import re
import time
import uuid
import zipfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from cloud_helpers import function_name, wait_terminal
from sfn_workbench.localcloud import control
from sfn_workbench.localcloud.lambda_runtime import SHUTDOWN_GRACE_S
from support import BUNDLE_DIR

SLEEPER = "import time\n\n\ndef lambda_handler(event, context):\n    time.sleep(event.get('sleep', 0))\n    return {}\n"
#: A handler module that flushes on SIGTERM, as a capture buffer would: it needs 0.3 s, then exits.
FLUSHER = (
    "import os, signal, sys, time\n\n\n"
    "def on_sigterm(signum, frame):\n"
    "    time.sleep(0.3)\n"
    "    with open(os.environ['MARKER'], 'w') as f:\n"
    "        f.write('flushed')\n"
    "    sys.exit(0)\n\n\n"
    "signal.signal(signal.SIGTERM, on_sigterm)\n\n\n"
    "def lambda_handler(event, context):\n"
    "    return {}\n"
)
#: A handler module that ignores SIGTERM: it is killed when the grace period ends.
STUBBORN = (
    "import signal\n\nsignal.signal(signal.SIGTERM, signal.SIG_IGN)\n\n\n"
    "def lambda_handler(event, context):\n    return {}\n"
)


def deploy(cloud: control.LocalCloud, name: str, source: str, **environment: str) -> None:
    iam = cloud.client("iam")
    trust = {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}]}  # fmt: skip
    role = iam.create_role(RoleName=f"{name}-role", AssumeRolePolicyDocument=json.dumps(trust))["Role"]["Arn"]
    code = io.BytesIO()
    with zipfile.ZipFile(code, "w") as archive:
        archive.writestr("app.py", source)
    cloud.client("lambda").create_function(
        FunctionName=name, Runtime="python3.12", Role=role, Handler="app.lambda_handler",
        Code={"ZipFile": code.getvalue()}, Timeout=10, Environment={"Variables": environment},
    )  # fmt: skip


def held(pid: int) -> tuple[int, int]:
    """Threads and open sockets of a process."""
    fds = Path(f"/proc/{pid}/fd")
    sockets = 0
    for fd in fds.iterdir():
        try:
            sockets += os.readlink(fd).startswith("socket:")
        except OSError:
            continue
    return len(list(Path(f"/proc/{pid}/task").iterdir())), sockets


def crash_next_invocation(cloud: control.LocalCloud, function: str, times: int = 1) -> None:
    (cloud.ctx.state_dir / "faults.json").write_text(json.dumps({function: ["Runtime.ExitError"] * times}))


def test_crashed_workers_release_their_socket_and_threads(cloud) -> None:
    deploy(cloud, "crasher", SLEEPER)
    lam = cloud.client("lambda")
    lam.invoke(FunctionName="crasher", Payload=b"{}")
    time.sleep(0.5)
    threads, sockets = held(cloud.pid)
    for _ in range(6):
        crash_next_invocation(cloud, "crasher")
        crashed = lam.invoke(FunctionName="crasher", Payload=b"{}")
        assert crashed["FunctionError"] == "Unhandled"
        assert json.loads(crashed["Payload"].read())["errorType"] == "Runtime.ExitError"
        assert "FunctionError" not in lam.invoke(FunctionName="crasher", Payload=b"{}"), "a fresh environment"
    time.sleep(0.5)
    after_threads, after_sockets = held(cloud.pid)
    # Six crashes used to leave six listening sockets and twelve threads behind.
    assert after_threads <= threads + 2, (threads, after_threads)
    assert after_sockets <= sockets + 2, (sockets, after_sockets)


def test_a_worker_killed_mid_run_is_retried_by_the_state_machine(cloud, sfn, s3, bucket, stack, state_machine) -> None:
    key = f"test/crash-{uuid.uuid4().hex[:6]}.png"
    s3.put_object(Bucket=bucket, Key=key, Body=(BUNDLE_DIR / "reference" / "8_00038.png").read_bytes())
    classify = function_name(stack, "ClassifyFunction")
    crash_next_invocation(cloud, classify)
    try:
        arn = sfn.start_execution(stateMachineArn=state_machine, input=json.dumps({"s3_bucket": bucket, "s3_key": key}))
        execution = wait_terminal(sfn, arn["executionArn"], timeout_s=60)
    finally:
        (cloud.ctx.state_dir / "faults.json").unlink(missing_ok=True)
    assert execution["status"] == "SUCCEEDED", execution.get("cause")
    events = sfn.get_execution_history(executionArn=arn["executionArn"], maxResults=1000)["events"]
    assert [e["taskFailedEventDetails"]["error"] for e in events if e["type"] == "TaskFailed"] == ["Runtime.ExitError"]


@pytest.fixture
def own_cloud(tmp_path: Path) -> Any:
    started: list[control.LocalCloud] = []

    def start(max_workers: int) -> control.LocalCloud:
        started.append(control.start(tmp_path / f"cloud-{len(started)}", max_workers=max_workers))
        return started[-1]

    yield start
    for cloud in started:
        if control.find(cloud.ctx.state_dir) is not None:
            cloud.stop()


def test_down_with_twelve_warm_workers_takes_at_most_half_a_second(own_cloud) -> None:
    cloud = own_cloud(12)
    deploy(cloud, "warm", SLEEPER)
    lam = cloud.client("lambda")
    with ThreadPoolExecutor(max_workers=12) as pool:
        list(pool.map(lambda _: lam.invoke(FunctionName="warm", Payload=b'{"sleep": 1.0}'), range(12)))
    streams = cloud.client("logs").describe_log_streams(logGroupName="/aws/lambda/warm")["logStreams"]
    assert len(streams) == 12, "twelve execution environments"
    started = time.monotonic()
    cloud.stop()
    assert time.monotonic() - started <= 0.5


def test_down_gives_a_sigterm_handler_its_grace_period_then_kills(own_cloud, tmp_path: Path) -> None:
    cloud = own_cloud(1)
    marker = tmp_path / "flushed"
    deploy(cloud, "flusher", FLUSHER, MARKER=str(marker))
    deploy(cloud, "stubborn", STUBBORN)
    lam = cloud.client("lambda")
    for name in ("flusher", "stubborn"):
        assert "FunctionError" not in lam.invoke(FunctionName=name, Payload=b"{}")
    pids = [int(p.name) for p in Path("/proc").iterdir() if p.name.isdigit() and _is_worker(int(p.name), cloud.pid)]
    assert len(pids) == 2
    started = time.monotonic()
    cloud.stop()
    took = time.monotonic() - started
    assert marker.read_text() == "flushed", "the SIGTERM handler ran to the end before any kill"
    assert SHUTDOWN_GRACE_S - 0.2 <= took <= SHUTDOWN_GRACE_S + 2, "the stubborn one was killed after the grace"
    assert not any(Path(f"/proc/{pid}").exists() and _state(pid) != "Z" for pid in pids)


def _is_worker(pid: int, server: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return False
    return int(stat.rsplit(") ", 1)[1].split()[1]) == server and b"awslambdaric" in cmdline


def _state(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(") ", 1)[1].split()[0]
    except OSError:
        return "gone"


def test_a_configuration_update_shuts_the_old_environment_down_gracefully(cloud, tmp_path: Path) -> None:
    marker = tmp_path / "flushed"
    deploy(cloud, "updated", FLUSHER, MARKER=str(marker))
    lam = cloud.client("lambda")
    assert "FunctionError" not in lam.invoke(FunctionName="updated", Payload=b"{}")
    lam.update_function_configuration(
        FunctionName="updated", Environment={"Variables": {"MARKER": str(marker), "V": "2"}}
    )
    assert "FunctionError" not in lam.invoke(FunctionName="updated", Payload=b"{}"), "a new environment serves it"
    deadline = time.monotonic() + SHUTDOWN_GRACE_S + 2
    while not marker.exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert marker.read_text() == "flushed", "the replaced environment got SIGTERM and its grace period"


ECHO = (
    "def lambda_handler(event, context):\n"
    "    if event.get('fail'):\n"
    "        raise ValueError('asked to fail')\n"
    "    print('handled', context.aws_request_id)\n"
    "    return {'echo': event, 'arn': context.invoked_function_arn.split(':')[-1],\n"
    "            'has_time_left': context.get_remaining_time_in_millis() > 0}\n"
)


def test_the_lean_runtime_client_answers_as_awslambdaric_does(cloud) -> None:
    """The opt-in client swaps the transport only: results, errors and init errors keep their shapes."""
    lam = cloud.client("lambda")
    answers: dict[str, list[Any]] = {}
    for client in ("awslambdaric", "lean"):
        deploy(cloud, f"echo-{client}", ECHO, SFN_LOCAL_RUNTIME_CLIENT=client)
        deploy(cloud, f"broken-{client}", "import no_such_module\n", SFN_LOCAL_RUNTIME_CLIENT=client)
        ok = lam.invoke(FunctionName=f"echo-{client}", Payload=b'{"n": [1, "\\u00e9"]}')
        failed = lam.invoke(FunctionName=f"echo-{client}", Payload=b'{"fail": true}')
        broken = lam.invoke(FunctionName=f"broken-{client}", Payload=b"{}")
        error, init_error = json.loads(failed["Payload"].read()), json.loads(broken["Payload"].read())
        assert error["stackTrace"], "the handler's frames, as awslambdaric reports them"
        body = json.loads(ok["Payload"].read())
        assert body.pop("arn") == f"echo-{client}", "the context names the invoked function"
        answers[client] = [
            "FunctionError" in ok, body, failed.get("FunctionError"),
            error["errorType"], error["errorMessage"], broken.get("FunctionError"),
            init_error["errorType"], init_error["errorMessage"],
        ]  # fmt: skip
    assert answers["lean"] == answers["awslambdaric"]
    assert answers["lean"][:2] == [False, {"echo": {"n": [1, "é"]}, "has_time_left": True}]
    assert answers["lean"][3:5] == ["ValueError", "asked to fail"]
    assert answers["lean"][6] == "Runtime.ImportModuleError"
    commands = [Path(f"/proc/{pid}/cmdline").read_bytes() for pid in _children(cloud.pid)]
    assert any(b"sfn_workbench.localcloud.lean_runtime" in c for c in commands), "a worker runs the lean client"
    for client in ("awslambdaric", "lean"):
        lines = (cloud.ctx.logs_dir / f"echo-{client}.log").read_text().splitlines()
        [handled] = [line.split()[1] for line in lines if line.startswith("handled ")]
        assert lines.index(f"handled {handled}") < lines.index(f"END RequestId: {handled}"), "its lines, then END"
    log = (cloud.ctx.logs_dir / "echo-lean.log").read_text()
    durations = [float(d) for d in re.findall(r"\tDuration: ([\d.]+) ms", log)]
    assert len(durations) == 2 and all(d < 1000 for d in durations)
    assert log.count("Init Duration: ") == 1, "the cold start's INIT is reported apart from its Duration"


def _children(pid: int) -> list[int]:
    found: set[int] = set()
    for task in Path(f"/proc/{pid}/task").iterdir():
        with contextlib.suppress(OSError):
            found |= {int(c) for c in (task / "children").read_text().split()}
    return sorted(found)
