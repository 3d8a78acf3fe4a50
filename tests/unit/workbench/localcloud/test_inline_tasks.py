"""The ``inline`` speed lever: only a task state whose timeout cannot fire leaves moto's timed thread."""

from __future__ import annotations

from typing import Any

import pytest
from moto.stepfunctions.parser.asl.component.common.timeouts.timeout import TimeoutSeconds

from sfn_workbench.localcloud.speedups_plugin import _inline_when_untimed


class Frame:
    def __init__(self, events: list[str]) -> None:
        self.events: list[str] = events
        self.stack: list[Any] = []
        self.states = self

    def reset(self, input_value: Any) -> None:
        self.events.append(f"reset {input_value}")

    def set_ended(self) -> None:
        self.events.append("ended")


class Env:
    def __init__(self) -> None:
        self.events: list[str] = []
        self.stack: list[Any] = ["below"]
        self.states = self
        self.frame = Frame(self.events)

    def get_input(self) -> str:
        return "input"

    def is_running(self) -> bool:  # moto's TimeoutSeconds.eval asks, then pushes its seconds
        return True

    def open_frame(self) -> Frame:
        return self.frame

    def close_frame(self, frame: Frame) -> None:
        self.events.append("closed")


class State:
    def __init__(self, timeout: TimeoutSeconds, fail: bool = False) -> None:
        self.timeout, self.fail = timeout, fail

    def _eval_execution(self, frame: Frame) -> None:
        frame.events.append(f"ran with {frame.stack}")
        if self.fail:
            raise ValueError("task failed")
        frame.stack.append("output")


def timed(state: Any, env: Any) -> None:
    env.events.append("moto's timed thread")


@pytest.mark.parametrize("timeout", [TimeoutSeconds(5), TimeoutSeconds(60, is_default=True)], ids=["5 s", "heartbeat"])
def test_a_timeout_that_can_fire_keeps_moto_s_thread(timeout: TimeoutSeconds) -> None:
    env = Env()
    _inline_when_untimed(timed)(State(timeout), env)
    assert env.events == ["moto's timed thread"]


def test_the_default_timeout_runs_inline_in_moto_s_order() -> None:
    env = Env()
    _inline_when_untimed(timed)(State(TimeoutSeconds(TimeoutSeconds.DEFAULT_TIMEOUT_SECONDS)), env)
    assert env.events == ["reset input", "ran with ['below']", "ended", "closed"]
    assert env.stack == ["below", "output"]


def test_an_inline_failure_is_raised_after_the_frame_closes() -> None:
    env = Env()
    with pytest.raises(ValueError, match="task failed"):
        _inline_when_untimed(timed)(State(TimeoutSeconds(TimeoutSeconds.DEFAULT_TIMEOUT_SECONDS), fail=True), env)
    assert env.events[-2:] == ["ended", "closed"]
