"""Probability vectors: check what a model returned, and pick the top class."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from sfn_inference.core.errors import PredictionError

#: How far a probability vector may sum from 1 before it is rejected rather than renormalised.
SUM_TOLERANCE = 1e-3
#: The batch size from which the rows are checked as one matrix.
_VECTORISE_FROM = 8


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


def probability_rows(matrix: np.ndarray, n_labels: int) -> list[list[float] | PredictionError]:
    """:func:`as_probabilities` for every row of a model's (N, labels) output, checked and renormalised
    in one pass over the matrix: a bad row is that row's error, never its batch's."""
    values = np.asarray(matrix, dtype=np.float64)
    if len(values) < _VECTORISE_FROM:  # numpy's per-call overhead outweighs a short loop
        return [_checked(row, n_labels) for row in values.tolist()]
    if values.ndim != 2 or values.shape[1] != n_labels:
        width = values.shape[-1] if values.ndim else 0
        return [PredictionError(f"expected {n_labels} probabilities, got {width}") for _ in range(len(values))]
    totals = values.sum(axis=1)
    valid: list[bool] = np.all(np.isfinite(values) & (values >= 0.0), axis=1).tolist()
    with np.errstate(divide="ignore", invalid="ignore"):  # such rows are errors below
        normalised = (values / totals[:, None]).tolist()
    rows: list[list[float] | PredictionError] = []
    for ok, total, row in zip(valid, totals.tolist(), normalised, strict=True):
        if not ok:
            rows.append(PredictionError("probabilities must be finite and non-negative"))
        elif abs(total - 1.0) > SUM_TOLERANCE:
            rows.append(PredictionError(f"probabilities sum to {total:.6f}, not 1"))
        else:
            rows.append(row)
    return rows


def _checked(row: Any, n_labels: int) -> list[float] | PredictionError:
    try:
        return as_probabilities(row if isinstance(row, list) else [row], n_labels)
    except PredictionError as exc:
        return exc


def top(probabilities: list[float], labels: list[str]) -> Prediction:
    best = max(range(len(probabilities)), key=probabilities.__getitem__)
    return Prediction(probabilities, labels[best], probabilities[best])
