"""CloudWatch embedded metric format (EMF) lines, as Powertools' ``Metrics`` prints them, at a fraction
of the cost.

Powertools' ``Metrics`` cost classify about 110 us per invocation on this machine (its
metric-unit enums, a validated schema per flush, a ``single_metric`` context per label)
and, through the package's ``__init__``, 40-50 ms of cold start. This writes the same
document, key for key: ``_aws`` (``Timestamp``, ``CloudWatchMetrics`` with the namespace,
one dimension set and the metrics' names and units), the dimension values, then each
metric's values as a list. CloudWatch takes at most 100 values per metric and 100 metrics
per document, so larger sets are split across lines. ``tests/unit/adapters/test_emf.py``
compares the output with Powertools' own.
"""

from __future__ import annotations

import functools
import json
import os
import sys
import time
from collections.abc import Callable
from typing import Any, Literal, TextIO, TypeVar

from sfn_inference.core.errors import ConfigError
from sfn_inference.core.wire import json_floats

#: The CloudWatch units the functions use (Powertools' MetricUnit values).
Unit = Literal["Count", "None", "Milliseconds"]
COUNT: Unit = "Count"
NO_UNIT: Unit = "None"
MILLISECONDS: Unit = "Milliseconds"

#: A metric's unit and its values in this invocation.
Series = tuple[Unit, list[float]]
#: EMF's limits: values per metric and metrics per document.
MAX_VALUES = 100
MAX_METRICS = 100

Handler = TypeVar("Handler", bound=Callable[..., Any])


def metrics_disabled() -> bool:
    """Powertools' rule: POWERTOOLS_METRICS_DISABLED, or POWERTOOLS_DEV without an explicit setting."""
    disabled = os.environ.get("POWERTOOLS_METRICS_DISABLED")
    if disabled is not None:
        return disabled.strip().lower() in {"1", "true", "yes", "y", "on"}
    return os.environ.get("POWERTOOLS_DEV", "").strip().lower() in {"1", "true", "yes", "y", "on"}


class Metrics:
    """The invocation's metrics, printed as EMF lines when the handler returns or raises.

    ``add_count`` is a metric with one more dimension (a label, an error name): one line per
    distinct value, so the main line's dimension set never multiplies. Those lines carry no
    ``service`` dimension, as Powertools' ``single_metric`` lines did, so their metrics keep
    the dimension sets alarms and dashboards already name.
    """

    def __init__(self, namespace: str | None = None, service: str | None = None, stream: TextIO | None = None) -> None:
        self.namespace = namespace or os.environ.get("POWERTOOLS_METRICS_NAMESPACE") or ""
        if not self.namespace:
            raise ConfigError("POWERTOOLS_METRICS_NAMESPACE is not set: the functions' metrics need a namespace")
        self.service = service or os.environ.get("POWERTOOLS_SERVICE_NAME") or ""
        self.default_dimensions: dict[str, str] = {}
        self._dimensions: dict[str, str] = {}
        self._metrics: dict[str, Series] = {}
        self._counts: dict[tuple[str, str, str], float] = {}
        self._stream = stream
        self._parts: dict[tuple[object, ...], tuple[str, list[str]]] = {}

    def set_default_dimensions(self, **dimensions: str) -> None:
        self.default_dimensions = dict(dimensions)

    def add_dimension(self, name: str, value: str) -> None:
        """A dimension for this invocation's lines only."""
        self._dimensions[name] = value

    def add_metric(self, name: str, unit: Unit, value: float) -> None:
        entry = self._metrics.get(name)
        if entry is None:
            self._metrics[name] = (unit, [float(value)])
        else:
            entry[1].append(float(value))

    def add_count(self, name: str, dimension: str, value: str, count: float = 1) -> None:
        key = (name, dimension, value)
        self._counts[key] = self._counts.get(key, 0.0) + count

    def flush(self) -> None:
        """Print the invocation's lines (unless metrics are disabled) and start afresh."""
        metrics, counts, extra = self._metrics, self._counts, self._dimensions
        self._metrics, self._counts, self._dimensions = {}, {}, {}
        if (not metrics and not counts) or metrics_disabled():
            return
        dimensions = {**self.default_dimensions, **extra} if extra else self.default_dimensions
        dims = tuple(dimensions.items())
        timestamp = str(int(time.time() * 1000))
        lines = [
            self._document(
                timestamp,
                (dims, dimension, value),
                {**dimensions, dimension: value},
                {name: (COUNT, [count])},
                service=False,
            )
            for (name, dimension, value), count in sorted(counts.items())
        ]
        if len(metrics) <= MAX_METRICS and all(len(values) <= MAX_VALUES for _, values in metrics.values()):
            if metrics:  # the usual case: one document holds them all
                lines.append(self._document(timestamp, (dims, *metrics), dimensions, metrics))
        else:
            lines.extend(self._split(timestamp, dims, dimensions, metrics))
        stream = self._stream or sys.stdout
        stream.write("".join(lines))
        stream.flush()

    def _split(
        self, timestamp: str, dims: tuple[object, ...], dimensions: dict[str, str], metrics: dict[str, Series]
    ) -> list[str]:
        """Documents within CloudWatch's limits: 100 metrics each, 100 values per metric."""
        lines, names = [], list(metrics)
        for first in range(0, len(names), MAX_METRICS):
            chunk = {name: metrics[name] for name in names[first : first + MAX_METRICS]}
            longest = max(len(values) for _, values in chunk.values())
            for start in range(0, longest, MAX_VALUES):
                part = {n: (u, v[start : start + MAX_VALUES]) for n, (u, v) in chunk.items() if v[start:]}
                lines.append(self._document(timestamp, (dims, *part), dimensions, part))
        return lines

    def _document(
        self,
        timestamp: str,
        key: tuple[object, ...],
        dimensions: dict[str, str],
        metrics: dict[str, Series],
        service: bool = True,
    ) -> str:
        """One document; ``key`` names its fixed text (dimensions and metric names; a name keeps its unit)."""
        parts = self._parts.get(key)
        if parts is None:  # the same few documents every invocation: their fixed text is built once
            if len(self._parts) >= 1024:  # bounded labels and error names keep it far below this
                self._parts.clear()
            if service and self.service:
                dimensions = {**dimensions, "service": dimensions.get("service", self.service)}
            directive = {
                "Namespace": self.namespace,
                "Dimensions": [list(dimensions)],
                "Metrics": [{"Name": name, "Unit": unit} for name, (unit, _) in metrics.items()],
            }
            middle = f',"CloudWatchMetrics":[{json.dumps(directive, separators=(",", ":"))}]}}'
            middle += "".join(f",{json.dumps(k)}:{json.dumps(v)}" for k, v in dimensions.items())
            parts = self._parts[key] = (middle, [f",{json.dumps(name)}:" for name in metrics])
        middle, names = parts
        values = "".join([n + json_floats(v, ",") for n, (_, v) in zip(names, metrics.values(), strict=True)])
        return f'{{"_aws":{{"Timestamp":{timestamp}{middle}{values}}}\n'

    def log_metrics(self, handler: Handler) -> Handler:
        """Flush after each invocation, whether the handler returns or raises (as Powertools does)."""

        @functools.wraps(handler)
        def wrapper(event: Any, context: Any) -> Any:
            try:
                return handler(event, context)
            finally:
                self.flush()

        return wrapper  # type: ignore[return-value]
