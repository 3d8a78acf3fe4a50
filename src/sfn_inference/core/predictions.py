"""Probability vectors: check what a model returned, and pick the top class."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from sfn_inference.core.errors import PredictionError

#: How far a probability vector may sum from 1 before it is rejected rather than renormalised.
SUM_TOLERANCE = 1e-3


@dataclass(frozen=True)
class Prediction:
    probabilities: list[float]
    label: str
    confidence: float


def as_probabilities(values: Sequence[float], n_labels: int) -> list[float]:
    """Check a model output is a probability vector over the labels; renormalise rounding."""
    probs = [float(v) for v in values]
    if len(probs) != n_labels:
        raise PredictionError(f"expected {n_labels} probabilities, got {len(probs)}")
    if any(not math.isfinite(p) or p < 0.0 for p in probs):
        raise PredictionError("probabilities must be finite and non-negative")
    total = math.fsum(probs)
    if abs(total - 1.0) > SUM_TOLERANCE:
        raise PredictionError(f"probabilities sum to {total:.6f}, not 1")
    return [p / total for p in probs]


def top(probabilities: list[float], labels: list[str]) -> Prediction:
    best = max(range(len(probabilities)), key=probabilities.__getitem__)
    return Prediction(probabilities, labels[best], probabilities[best])
