"""`sfn-inference logs <function> --follow`: the last lines, then every new one until Ctrl-C."""

from __future__ import annotations

import base64
import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
from queue import Empty, Queue

from cloud_helpers import function_name
from support import ROOT


def test_logs_follow_prints_new_lines_until_ctrl_c(cloud, stack) -> None:
    command = [sys.executable, "-m", "sfn_workbench.cli", "logs", "filter", "--follow", "-n", "1",
               "--state-dir", str(cloud.ctx.state_dir)]  # fmt: skip
    follower = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, text=True, env={**os.environ})
    lines: Queue[str] = Queue()
    stdout = follower.stdout
    assert stdout is not None

    def pump() -> None:
        for line in stdout:
            lines.put(line)

    threading.Thread(target=pump, daemon=True).start()
    try:
        time.sleep(2.0)  # the CLI has started and printed the last line
        response = cloud.client("lambda").invoke(
            FunctionName=function_name(stack, "FilterFunction"), Payload=json.dumps({"x": 1}), LogType="Tail"
        )
        tail = base64.b64decode(response["LogResult"]).decode()
        request_id = re.findall(r"START RequestId: (\S+)", tail)[-1]
        seen: list[str] = []
        deadline = time.monotonic() + 15
        while not any(f"END RequestId: {request_id}" in line for line in seen):
            assert time.monotonic() < deadline, f"no END line for {request_id} in {seen[-5:]}"
            try:
                seen.append(lines.get(timeout=0.5))
            except Empty:
                continue
        assert any(f"START RequestId: {request_id}" in line for line in seen)
        assert follower.poll() is None, "still following"
    finally:
        follower.send_signal(signal.SIGINT)
        assert follower.wait(timeout=10) == 0, "Ctrl-C ends it cleanly"
