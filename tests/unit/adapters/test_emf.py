"""adapters.emf writes the EMF documents Powertools' Metrics writes, and CloudWatch's limits hold."""

from __future__ import annotations

import io
import json
from typing import Any

import pytest
from aws_lambda_powertools import Metrics as PowertoolsMetrics
from aws_lambda_powertools.metrics import MetricUnit, single_metric

from sfn_inference.adapters.emf import COUNT, MILLISECONDS, NO_UNIT, Metrics
from sfn_inference.core.errors import ConfigError


def documents(text: str) -> list[dict[str, Any]]:
    out = []
    for line in text.splitlines():
        document = json.loads(line)
        assert isinstance(document["_aws"].pop("Timestamp"), int)
        out.append(document)
    return out


def ours(stream: io.StringIO) -> Metrics:
    metrics = Metrics(namespace="SfnInference", service="sfn-inference", stream=stream)
    metrics.set_default_dimensions(Model="digits", ModelVersion="v1")
    return metrics


def test_the_documents_are_powertools_documents_key_for_key(capsys: pytest.CaptureFixture[str]) -> None:
    theirs = PowertoolsMetrics(namespace="SfnInference", service="sfn-inference")
    theirs.set_default_dimensions(Model="digits", ModelVersion="v1")

    @theirs.log_metrics
    def handler(event: Any, context: Any) -> None:
        theirs.add_metric(name="Inferences", unit=MetricUnit.Count, value=1)
        theirs.add_metric(name="Confidence", unit=MetricUnit.NoUnit, value=0.93)
        theirs.add_metric(name="Inferences", unit=MetricUnit.Count, value=1)
        theirs.add_metric(name="ModelLatency", unit=MetricUnit.Milliseconds, value=0.05)
        for label, count in (("3", 2), ("7", 1)):
            with single_metric(name="Predictions", unit=MetricUnit.Count, value=count, namespace=theirs.namespace,
                               default_dimensions=theirs.default_dimensions) as metric:  # fmt: skip
                metric.add_dimension(name="Label", value=label)

    handler({}, None)
    expected = documents(capsys.readouterr().out)

    stream = io.StringIO()
    metrics = ours(stream)

    @metrics.log_metrics
    def mine(event: Any, context: Any) -> None:
        metrics.add_metric(name="Inferences", unit=COUNT, value=1)
        metrics.add_metric(name="Confidence", unit=NO_UNIT, value=0.93)
        metrics.add_metric(name="Inferences", unit=COUNT, value=1)
        metrics.add_metric(name="ModelLatency", unit=MILLISECONDS, value=0.05)
        for label in ("3", "7", "3"):
            metrics.add_count("Predictions", "Label", label)

    mine({}, None)
    got = documents(stream.getvalue())
    assert [json.dumps(d) for d in got] == [json.dumps(d) for d in expected]  # the same keys in the same order


def test_the_lines_are_written_when_the_handler_raises_and_then_cleared() -> None:
    stream = io.StringIO()
    metrics = ours(stream)

    @metrics.log_metrics
    def failing(event: Any, context: Any) -> None:
        metrics.add_dimension("Stack", "s")
        metrics.add_count("Errors", "ErrorName", "CorruptImageError")
        raise RuntimeError("boom")

    with pytest.raises(RuntimeError):
        failing({}, None)
    [document] = documents(stream.getvalue())
    assert (document["ErrorName"], document["Stack"], document["Errors"]) == ("CorruptImageError", "s", [1.0])
    stream.truncate(0)
    metrics.add_metric("Inferences", COUNT, 1)
    metrics.flush()
    [after] = documents(stream.getvalue().lstrip("\0"))
    assert "Stack" not in after and "ErrorName" not in after  # an invocation's dimensions end with it


def test_cloudwatch_limits_split_large_sets_and_lose_no_value() -> None:
    stream = io.StringIO()
    metrics = ours(stream)
    for i in range(250):
        metrics.add_metric("Confidence", NO_UNIT, i / 250)
    for i in range(120):
        metrics.add_metric(f"M{i}", COUNT, 1)
    metrics.flush()
    lines = documents(stream.getvalue())
    assert all(len(d["_aws"]["CloudWatchMetrics"][0]["Metrics"]) <= 100 for d in lines)
    assert all(len(v) <= 100 for d in lines for k, v in d.items() if isinstance(v, list))
    assert [v for d in lines for v in d.get("Confidence", [])] == [i / 250 for i in range(250)]
    assert sum(1 for d in lines for k in d if k.startswith("M") and k[1:].isdigit()) == 120


def test_nothing_is_written_when_disabled_or_empty(monkeypatch: pytest.MonkeyPatch) -> None:
    stream = io.StringIO()
    metrics = ours(stream)
    metrics.flush()
    monkeypatch.setenv("POWERTOOLS_METRICS_DISABLED", "true")
    metrics.add_metric("Inferences", COUNT, 1)
    metrics.flush()
    monkeypatch.delenv("POWERTOOLS_METRICS_DISABLED")
    monkeypatch.setenv("POWERTOOLS_DEV", "true")  # Powertools' rule: dev mode disables unless told otherwise
    metrics.add_metric("Inferences", COUNT, 1)
    metrics.flush()
    assert stream.getvalue() == ""


def test_a_missing_namespace_is_a_named_error_at_init(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("POWERTOOLS_METRICS_NAMESPACE", raising=False)
    with pytest.raises(ConfigError, match="POWERTOOLS_METRICS_NAMESPACE"):
        Metrics()
