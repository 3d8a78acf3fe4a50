"""Metrics and traces from the functions: CloudWatch embedded metric format lines (``adapters.emf``,
Powertools' ``Metrics`` format at a fraction of its cost) and, when tracing is on, Powertools
``Tracer`` (X-Ray) with the label and the error name as annotations.

One namespace for the project (``POWERTOOLS_METRICS_NAMESPACE``, the template sets
``SfnInference``) and the model's name and version as dimensions where a model is
involved. Per-label and per-error counts carry one more bounded dimension (a model's
labels, the named errors), each as its own EMF line, so the dimension sets never multiply.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from functools import cache
from typing import Any, Protocol, TypeVar

from sfn_inference.adapters.emf import COUNT, MILLISECONDS, NO_UNIT, Metrics
from sfn_inference.core.bundle import ModelBundle
from sfn_inference.core.errors import SfnInferenceError
from sfn_inference.datacapture.writer import CaptureCounters


def model_dimensions(bundle: ModelBundle) -> dict[str, str]:
    return {"Model": bundle.metadata.name, "ModelVersion": bundle.version}


def count_errors(metrics: Metrics, names: Iterable[str]) -> None:
    """Errors per error name: one EMF line per distinct name."""
    for name in names:
        metrics.add_count("Errors", "ErrorName", name)


def record_inferences(metrics: Metrics, results: Iterable[tuple[str, float | None]]) -> None:
    """Inferences, each confidence as a value (CloudWatch keeps the distribution), and the count per label."""
    for label, confidence in results:
        annotate(label=label)
        metrics.add_metric(name="Inferences", unit=COUNT, value=1)
        if confidence is not None:
            metrics.add_metric(name="Confidence", unit=NO_UNIT, value=confidence)
        metrics.add_count("Predictions", "Label", label)


def record_model_time(metrics: Metrics, seconds: float) -> None:
    if seconds > 0:
        metrics.add_metric(name="ModelLatency", unit=MILLISECONDS, value=seconds * 1000)


class CaptureMeter:
    """Capture records written and dropped since the last invocation, from the writer's counters."""

    def __init__(self) -> None:
        self._written = 0
        self._dropped = 0

    def record(self, metrics: Metrics, counters: CaptureCounters | None) -> None:
        if counters is None:
            return
        written, dropped = counters.written_records - self._written, counters.dropped_records - self._dropped
        self._written, self._dropped = counters.written_records, counters.dropped_records
        metrics.add_metric(name="CaptureRecordsWritten", unit=COUNT, value=written)
        metrics.add_metric(name="CaptureRecordsDropped", unit=COUNT, value=dropped)


def record_batch_items(metrics: Metrics, items: Iterable[Mapping[str, Any]]) -> None:
    """A batch step's items: classified ones as inferences, error rows by their error's name."""
    items = list(items)
    record_inferences(metrics, [(str(i["label"]), float(i["confidence"])) for i in items if "confidence" in i])
    count_errors(metrics, [str(i["error"]) for i in items if i.get("outcome") == "error" and i.get("error")])


@contextmanager
def observing(metrics: Metrics, *, timer: TimedWork | None = None, capture: CaptureCounters | None = None,
              meter: CaptureMeter | None = None) -> Iterator[None]:  # fmt: skip
    """Count a named error by its name (and re-raise it); record the model's time and the capture counts."""
    try:
        yield
    except SfnInferenceError as exc:
        count_errors(metrics, [type(exc).__name__])
        annotate(error=type(exc).__name__)
        raise
    finally:
        if timer is not None:
            record_model_time(metrics, timer.take())
        if meter is not None:
            meter.record(metrics, capture)


class TimedWork(Protocol):
    def take(self) -> float: ...


Handler = TypeVar("Handler", bound=Callable[..., Any])


@cache
def tracer() -> Any | None:
    """Powertools' Tracer in Lambda with tracing on; None otherwise. Its import (aws-xray-sdk, ~45 ms)
    stays off the cold path of a function whose tracing is off (POWERTOOLS_TRACE_DISABLED=true)."""
    disabled = os.environ.get("POWERTOOLS_TRACE_DISABLED", "").strip().lower() in {"1", "true", "yes"}
    if disabled or not os.environ.get("AWS_LAMBDA_FUNCTION_NAME"):
        return None
    from aws_lambda_powertools import Tracer  # noqa: PLC0415 - only when tracing

    return Tracer()


def traced(handler: Handler) -> Handler:
    """The handler as a traced subsegment when tracing is on; the handler itself otherwise."""
    active = tracer()
    return handler if active is None else active.capture_lambda_handler(handler)  # type: ignore[no-any-return]


def annotate(**annotations: str) -> None:
    active = tracer()
    if active is not None:
        for key, value in annotations.items():
            active.put_annotation(key=key, value=value)
