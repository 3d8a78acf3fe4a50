"""classify's lean log writes the lines Powertools' Logger writes: the same keys, in the same order."""

from __future__ import annotations

import io
import json
import logging
import uuid
from typing import Any

import pytest
from aws_lambda_powertools import Logger

from sfn_inference.adapters.lambda_log import LambdaLog
from support import FakeLambdaContext


def powertools_lines(service: str) -> list[dict[str, Any]]:
    stream = io.StringIO()
    logger = Logger(service=service, logger_handler=logging.StreamHandler(stream))

    @logger.inject_lambda_context(log_event=False)
    def handler(event: Any, context: Any) -> None:
        logger.info("classified", extra={"label": "7", "confidence": 0.991})
        logger.warning("careful")

    for _ in range(2):
        handler({}, FakeLambdaContext())
    return [json.loads(line) for line in stream.getvalue().splitlines()]


def lean_lines(service: str) -> list[dict[str, Any]]:
    stream = io.StringIO()
    log = LambdaLog(service=service, stream=stream)

    @log.inject_lambda_context
    def handler(event: Any, context: Any) -> None:
        log.info("classified", label="7", confidence=0.991)
        log.warning("careful")

    for _ in range(2):
        handler({}, FakeLambdaContext())
    return [json.loads(line) for line in stream.getvalue().splitlines()]


@pytest.mark.parametrize("trace", [None, "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1"])
def test_the_same_keys_and_values_as_powertools(monkeypatch: pytest.MonkeyPatch, trace: str | None) -> None:
    if trace:
        monkeypatch.setenv("_X_AMZN_TRACE_ID", trace)
    else:
        monkeypatch.delenv("_X_AMZN_TRACE_ID", raising=False)
    monkeypatch.setenv("TZ", "UTC")
    service = f"sfn-inference-{uuid.uuid4().hex[:8]}"  # Powertools keeps one logger per service
    expected, got = powertools_lines(service), lean_lines(service)
    assert [list(line) for line in got] == [list(line) for line in expected]
    for mine, theirs in zip(got, expected, strict=True):
        # The time, the line in each test's own handler, and cold_start (Powertools keeps one per process).
        varying = {"timestamp", "location", "cold_start"}
        assert {k: v for k, v in mine.items() if k not in varying} == {
            k: v for k, v in theirs.items() if k not in varying
        }
        assert mine["location"].startswith("handler:") and len(mine["timestamp"]) == len(theirs["timestamp"])
    assert [line["cold_start"] for line in got] == [True, True, False, False]


def test_the_level_is_respected() -> None:
    stream = io.StringIO()
    log = LambdaLog(service="s", level="WARNING", stream=stream)
    log.info("hidden")
    log.warning("shown", n=1)
    [line] = [json.loads(x) for x in stream.getvalue().splitlines()]
    assert (line["level"], line["message"], line["n"]) == ("WARNING", "shown", 1)


def test_appended_keys_match_powertools_and_last_one_invocation(monkeypatch: pytest.MonkeyPatch) -> None:
    """fashion's ``append_keys(url_host=...)`` under Powertools' ``clear_state=True``."""
    monkeypatch.delenv("_X_AMZN_TRACE_ID", raising=False)
    service = f"sfn-inference-{uuid.uuid4().hex[:8]}"
    theirs, mine = io.StringIO(), io.StringIO()
    logger = Logger(service=service, logger_handler=logging.StreamHandler(theirs))
    log = LambdaLog(service=service, stream=mine)

    @logger.inject_lambda_context(log_event=False, clear_state=True)
    def powertools(event: Any, context: Any) -> None:
        if event:
            logger.append_keys(url_host="example.com")
        logger.info("classified", extra={"label": "7"})

    @log.inject_lambda_context
    def lean(event: Any, context: Any) -> None:
        if event:
            log.append_keys(url_host="example.com")
        log.info("classified", label="7")

    for event in ({"url": 1}, {}):
        powertools(event, FakeLambdaContext())
        lean(event, FakeLambdaContext())
    expected = [json.loads(line) for line in theirs.getvalue().splitlines()]
    got = [json.loads(line) for line in mine.getvalue().splitlines()]
    assert [list(line) for line in got] == [list(line) for line in expected]
    assert [line.get("url_host") for line in got] == ["example.com", None]
