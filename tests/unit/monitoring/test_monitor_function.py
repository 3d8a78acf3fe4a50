"""The monitor function: a scheduled event or a named window in, the report and its metrics out."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from sfn_inference.adapters.memory import InMemoryObjectStore
from sfn_inference.core.errors import ConfigError, InvalidEventError
from sfn_inference.monitoring.request import window_of
from support import BUNDLE_DIR, load_handler

ENV = {
    "CAPTURE_SOURCE": "s3://images/captures/litert-in-lambda/AllTraffic/",
    "MONITORING_OUTPUT": "s3://images/monitoring/",
    "MONITORED_ENDPOINT": "litert-in-lambda",
    "MODEL_DIR": str(BUNDLE_DIR),
    "STACK_NAME": "demo",
}
SCHEDULED = {
    "version": "0",
    "id": "53dc4d37-cffa-4f76-80c9-8b7d4a4d2eaa",
    "detail-type": "Scheduled Event",
    "source": "aws.events",
    "account": "123456789012",
    "time": "2026-11-30T12:00:00Z",
    "region": "us-east-1",
    "resources": ["arn:aws:events:us-east-1:123456789012:rule/demo-MonitorFunctionSchedule"],
    "detail": {},
}


def test_a_scheduled_event_monitors_the_hour_before_it(monkeypatch, context, capsys) -> None:
    for name, value in {**ENV, "POWERTOOLS_METRICS_NAMESPACE": "SfnInference"}.items():  # as the template sets them
        monkeypatch.setenv(name, value)
    monitor = load_handler("monitor", store=InMemoryObjectStore(), env=ENV)
    report = monitor.lambda_handler(SCHEDULED, context)
    assert report["status"] == "no data"
    assert report["window"] == {"start": "2026-11-30T11:00:00Z", "end": "2026-11-30T12:00:00Z"}
    emf = [json.loads(line) for line in capsys.readouterr().out.splitlines() if '"_aws"' in line]
    [metrics] = emf
    assert metrics["_aws"]["CloudWatchMetrics"][0]["Namespace"] == "SfnInference"
    assert metrics["Stack"] == "demo" and metrics["ConstraintViolations"] == [0.0]
    assert {m["Name"] for m in metrics["_aws"]["CloudWatchMetrics"][0]["Metrics"]} >= {
        "ConstraintViolations",
        "MonitoredInferences",
    }


def test_a_named_window_and_bad_requests() -> None:
    window = window_of({"window_minutes": 15, "end": "2026-11-30T12:00:00+01:00"}, 60)
    assert (window.start, window.end) == (
        datetime(2026, 11, 30, 10, 45, tzinfo=UTC),
        datetime(2026, 11, 30, 11, 0, tzinfo=UTC),
    )
    for bad in ([1], "now", {"window_minutes": 0}, {"end": "yesterday"}, {"end": "2026-11-30T12:00:00"}):
        with pytest.raises(InvalidEventError):
            window_of(bad, 60)


def test_a_missing_setting_is_a_config_error_naming_it() -> None:
    from sfn_inference.roots import monitor

    with pytest.raises(ConfigError, match="CAPTURE_SOURCE"):
        monitor.build(store=InMemoryObjectStore(), env={k: v for k, v in ENV.items() if k != "CAPTURE_SOURCE"})
