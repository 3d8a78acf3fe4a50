"""Compare a window of inferences with the baseline: the checks, the constraints and the violations.

Drift is measured with the population stability index (PSI) over the same bins, not with a
chi-square test: a chi-square p-value falls below any threshold for a negligible shift once
a window holds a few thousand inferences, so an hourly monitor would alarm on noise. PSI
measures the size of the shift whatever the window's size; the usual reading is below 0.1
stable, 0.1-0.2 a moderate shift, above 0.2 a significant one.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

from sfn_inference.monitoring.statistics import DatasetStats, FeatureStats

#: A bin empty on one side counts as this fraction, so the logarithm stays finite.
EPSILON = 1e-4


@dataclass(frozen=True)
class Thresholds:
    psi: float = 0.2
    #: The low-confidence share may exceed the baseline's by this much (absolute).
    low_confidence_margin: float = 0.1
    confidence_threshold: float = 0.93
    #: Below this many inferences a window is "insufficient data": no verdict either way.
    min_item_count: int = 30


@dataclass(frozen=True)
class Check:
    name: str
    feature_name: str
    value: float
    threshold: float
    violated: bool
    description: str


def psi(expected: Mapping[str, float], actual: Mapping[str, float]) -> float:
    total = 0.0
    for key in set(expected) | set(actual):
        e, a = max(expected.get(key, 0.0), EPSILON), max(actual.get(key, 0.0), EPSILON)
        total += (a - e) * math.log(a / e)
    return total


def low_confidence_share(confidence: FeatureStats, threshold: float) -> float:
    """The share below ``threshold``, from the histogram (bins of 0.1: the threshold's bin counts in full)."""
    total = sum(confidence.histogram.values())
    if not total:
        return 0.0
    below = sum(count for key, count in confidence.histogram.items() if (int(key) + 1) / 10 <= threshold + 1e-9)
    return below / total


def evaluate(window: DatasetStats, baseline: DatasetStats, limits: Thresholds) -> list[Check]:
    checks: list[Check] = []
    for name in ("label", "confidence", "input_mean", "input_std"):
        if name not in window.features or name not in baseline.features:
            continue
        value = psi(baseline.features[name].fractions(), window.features[name].fractions())
        what = "predicted label distribution" if name == "label" else f"{name} distribution"
        checks.append(
            Check(
                f"{name}_drift",
                name,
                round(value, 6),
                limits.psi,
                value > limits.psi,
                f"PSI of the {what} against the baseline is {value:.3f} (threshold {limits.psi})",
            )
        )
    ours = low_confidence_share(window.features["confidence"], limits.confidence_threshold)
    theirs = low_confidence_share(baseline.features["confidence"], limits.confidence_threshold)
    ceiling = theirs + limits.low_confidence_margin
    checks.append(
        Check(
            "low_confidence_share",
            "confidence",
            round(ours, 6),
            round(ceiling, 6),
            ours > ceiling,
            f"{ours:.1%} of inferences are below confidence {limits.confidence_threshold} "
            f"(baseline {theirs:.1%}, allowed up to {ceiling:.1%})",
        )
    )
    shift = window.features["confidence"].mean - baseline.features["confidence"].mean
    checks.append(
        Check(
            "confidence_mean_shift",
            "confidence",
            round(shift, 6),
            -limits.low_confidence_margin,
            shift < -limits.low_confidence_margin,
            f"mean confidence moved by {shift:+.3f} from the baseline's {baseline.features['confidence'].mean:.3f}",
        )
    )
    return checks


def violations_document(checks: list[Check]) -> dict[str, Any]:
    """Model Monitor's ``constraint_violations.json``."""
    return {
        "violations": [
            {
                "feature_name": c.feature_name,
                "constraint_check_type": "baseline_drift_check",
                "description": c.description,
            }
            for c in checks
            if c.violated
        ]
    }


def constraints_document(baseline: DatasetStats, limits: Thresholds) -> dict[str, Any]:
    """Model Monitor's ``constraints.json``, with this monitor's thresholds in ``monitoring_config``."""
    features: list[dict[str, Any]] = [
        {
            "name": "label",
            "inferred_type": "String",
            "completeness": 1.0,
            "string_constraints": {"domains": sorted(baseline.features["label"].histogram)},
        }
    ]
    features += [
        {
            "name": f.name,
            "inferred_type": "Fractional",
            "completeness": 1.0,
            "num_constraints": {"is_non_negative": True},
        }
        for f in baseline.features.values()
        if f.name != "label"
    ]
    return {
        "version": 0.0,
        "features": features,
        "monitoring_config": {
            "evaluate_constraints": "Enabled",
            "emit_metrics": "Enabled",
            "distribution_constraints": {
                "perform_comparison": "Enabled",
                "comparison_threshold": limits.psi,
                "comparison_method": "PopulationStabilityIndex",
            },
            "low_confidence": {
                "confidence_threshold": limits.confidence_threshold,
                "allowed_margin": limits.low_confidence_margin,
            },
            "min_item_count": limits.min_item_count,
        },
    }


def thresholds_from(constraints: Mapping[str, Any], confidence_threshold: float | None = None) -> Thresholds:
    config = constraints.get("monitoring_config", {})
    low = config.get("low_confidence", {})
    return Thresholds(
        psi=float(config.get("distribution_constraints", {}).get("comparison_threshold", Thresholds.psi)),
        low_confidence_margin=float(low.get("allowed_margin", Thresholds.low_confidence_margin)),
        confidence_threshold=confidence_threshold or float(low.get("confidence_threshold", 0.93)),
        min_item_count=int(config.get("min_item_count", Thresholds.min_item_count)),
    )


def check_dicts(checks: list[Check]) -> list[dict[str, Any]]:
    return [asdict(c) for c in checks]
