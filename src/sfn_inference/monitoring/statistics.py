"""What a set of inferences looks like, in Model Monitor's ``statistics.json`` layout.

Four features describe a window (and the baseline): the predicted ``label`` (String,
a categorical distribution), the ``confidence`` (Fractional), and for image models the
per-image ``input_mean`` (brightness) and ``input_std`` (contrast) of the model's input
tensor. Numerical distributions are histograms over fixed bins (Model Monitor keeps a KLL
sketch there; the buckets are the same idea, and what drift is measured on).
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

#: Confidence and pixel intensities live in [0, 1]: ten fixed bins compare any two windows.
BINS = [i / 10 for i in range(11)]
NUMERIC_FEATURES = ("confidence", "input_mean", "input_std")


@dataclass
class Observation:
    """One captured inference as the monitor sees it."""

    label: str
    confidence: float
    input_mean: float | None = None
    input_std: float | None = None


@dataclass
class FeatureStats:
    name: str
    count: int
    #: label -> count for ``label``; bin index -> count for the numeric features.
    histogram: dict[str, int] = field(default_factory=dict)
    mean: float = math.nan
    std_dev: float = math.nan
    minimum: float = math.nan
    maximum: float = math.nan

    def fractions(self) -> dict[str, float]:
        total = sum(self.histogram.values())
        return {k: v / total for k, v in self.histogram.items()} if total else {}


@dataclass
class DatasetStats:
    item_count: int
    features: dict[str, FeatureStats]


def summarise(observations: Iterable[Observation]) -> DatasetStats:
    items = list(observations)
    features = {"label": FeatureStats("label", len(items), dict(Counter(o.label for o in items)))}
    for name in NUMERIC_FEATURES:
        values = [v for o in items if (v := getattr(o, name)) is not None and math.isfinite(v)]
        if values or name == "confidence":
            features[name] = numeric(name, values)
    return DatasetStats(len(items), features)


def numeric(name: str, values: Sequence[float]) -> FeatureStats:
    stats = FeatureStats(name, len(values), {str(i): 0 for i in range(len(BINS) - 1)})
    for value in values:
        stats.histogram[str(bin_of(value))] += 1
    if values:
        mean = math.fsum(values) / len(values)
        stats.mean, stats.minimum, stats.maximum = mean, min(values), max(values)
        stats.std_dev = math.sqrt(math.fsum((v - mean) ** 2 for v in values) / len(values))
    return stats


def bin_of(value: float) -> int:
    return min(max(int(value * (len(BINS) - 1)), 0), len(BINS) - 2)


# --- Model Monitor's statistics.json ------------------------------------------------------------------


def to_document(stats: DatasetStats) -> dict[str, Any]:
    features: list[dict[str, Any]] = []
    for feature in stats.features.values():
        common = {"num_present": feature.count, "num_missing": stats.item_count - feature.count}
        if feature.name == "label":
            buckets = [{"value": k, "count": v} for k, v in sorted(feature.histogram.items())]
            features.append(
                {
                    "name": "label",
                    "inferred_type": "String",
                    "string_statistics": {
                        "common": common,
                        "distinct_count": len(feature.histogram),
                        "distribution": {"categorical": {"buckets": buckets}},
                    },
                }
            )
            continue
        buckets = [
            {"lower_bound": BINS[int(k)], "upper_bound": BINS[int(k) + 1], "count": v}
            for k, v in sorted(feature.histogram.items(), key=lambda kv: int(kv[0]))
        ]
        numbers = {"mean": feature.mean, "std_dev": feature.std_dev, "min": feature.minimum, "max": feature.maximum}
        features.append(
            {
                "name": feature.name,
                "inferred_type": "Fractional",
                "numerical_statistics": {
                    "common": common,
                    **{k: (None if math.isnan(v) else round(v, 6)) for k, v in numbers.items()},
                    "sum": None if math.isnan(feature.mean) else round(feature.mean * feature.count, 6),
                    "distribution": {"kll": {"buckets": buckets}},
                },
            }
        )
    return {"version": 0.0, "dataset": {"item_count": stats.item_count}, "features": features}


def from_document(document: Mapping[str, Any]) -> DatasetStats:
    features: dict[str, FeatureStats] = {}
    for entry in document["features"]:
        name = str(entry["name"])
        if entry["inferred_type"] == "String":
            s = entry["string_statistics"]
            buckets = s["distribution"]["categorical"]["buckets"]
            features[name] = FeatureStats(
                name, int(s["common"]["num_present"]), {str(b["value"]): int(b["count"]) for b in buckets}
            )
            continue
        n = entry["numerical_statistics"]
        buckets = n["distribution"]["kll"]["buckets"]
        histogram = {str(bin_of((b["lower_bound"] + b["upper_bound"]) / 2)): int(b["count"]) for b in buckets}
        features[name] = FeatureStats(
            name,
            int(n["common"]["num_present"]),
            histogram,
            *(math.nan if n.get(k) is None else float(n[k]) for k in ("mean", "std_dev", "min", "max")),
        )
    return DatasetStats(int(document["dataset"]["item_count"]), features)
