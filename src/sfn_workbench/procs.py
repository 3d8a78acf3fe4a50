"""Ports and child processes: the one free-port finder and the one way to stop a process."""

from __future__ import annotations

import contextlib
import os
import select
import signal
import socket
import subprocess
import time
from pathlib import Path


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie (exited, not yet reaped) is not alive.
    status = Path(f"/proc/{pid}/stat")
    with contextlib.suppress(OSError):
        return not status.read_text().split(") ", 1)[-1].startswith("Z")
    return False


def wait_gone(pid: int, timeout_s: float) -> bool:
    """Wait until ``pid`` has exited (a zombie counts as gone); False if it still runs after ``timeout_s``.

    Wakes the moment the process exits (a pidfd, Linux 5.3+), not at the next poll.
    """
    deadline = time.monotonic() + timeout_s
    try:
        fd = os.pidfd_open(pid)
    except ProcessLookupError:
        return True
    except (AttributeError, OSError):  # no pidfd here: poll
        while alive(pid):
            if time.monotonic() > deadline:
                return False
            time.sleep(0.005)
        return True
    try:
        with select.epoll() as poller:
            poller.register(fd, select.EPOLLIN)
            while alive(pid):
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                poller.poll(remaining)
        return True
    finally:
        os.close(fd)


def stop_process(process: subprocess.Popen[bytes] | int, grace_s: float, *, group: bool = False) -> None:
    """SIGTERM, then SIGKILL after ``grace_s``, as Lambda stops a runtime; reaps a Popen."""
    pid = process if isinstance(process, int) else process.pid
    send = os.killpg if group else os.kill
    if isinstance(process, subprocess.Popen) and process.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        send(pid, signal.SIGTERM)
    if wait_gone(pid, grace_s):  # wakes as the process exits, not at a poll
        if isinstance(process, subprocess.Popen):
            process.wait()
        return
    with contextlib.suppress(ProcessLookupError):
        send(pid, signal.SIGKILL)
    if isinstance(process, subprocess.Popen):
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(timeout=5)
