"""monitor's dependencies: settings, the object store, the bundle and its baseline."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sfn_inference.adapters.s3 import S3ObjectStore
from sfn_inference.core.bundle import ModelBundle, resolve_bundle_dir
from sfn_inference.core.ports import ObjectStore
from sfn_inference.core.settings import MonitorConfig
from sfn_inference.monitoring.checks import Thresholds, thresholds_from
from sfn_inference.monitoring.run import Location, baseline_of
from sfn_inference.monitoring.statistics import DatasetStats


@dataclass
class Monitor:
    settings: MonitorConfig
    store: ObjectStore
    bundle: ModelBundle
    baseline: DatasetStats
    constraints: dict[str, Any]
    source: Location
    output: Location

    @property
    def limits(self) -> Thresholds:
        return thresholds_from(self.constraints, self.settings.confidence_threshold)


def build(*, store: ObjectStore | None = None, env: Mapping[str, str] | None = None) -> Monitor:
    settings = MonitorConfig.from_env(env)
    bundle = ModelBundle(resolve_bundle_dir(settings.model_dir))
    baseline, constraints = baseline_of(bundle)
    return Monitor(
        settings,
        store or S3ObjectStore(),
        bundle,
        baseline,
        constraints,
        Location.parse(settings.capture_source, "CAPTURE_SOURCE"),
        Location.parse(settings.monitoring_output, "MONITORING_OUTPUT"),
    )
