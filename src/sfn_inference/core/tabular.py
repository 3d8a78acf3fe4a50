"""One feature record in, the model's tensor out: the decoder of ``kind: tabular`` bundles (Iris).

The request is the seed's record, ``{"sl": 6.9, "sw": 3.1, "pl": 5.1, "pw": 2.3}``, as a
JSON object or as query parameters (``?sl=6.9&sw=3.1&pl=5.1&pw=2.3``, so every value may be
a string). It must name exactly the bundle's ``feature_names``; each value is a JSON number
or a string that is one (``"6.9"``, as the seed's ``float(event['sl'])`` took it), finite
and within float32 range. The answer is the seed's: the label, as a JSON string.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from sfn_inference.core.bundle import ModelBundle
from sfn_inference.core.errors import (
    InvalidRequestError,
    MissingFeatureError,
    ModelBundleError,
    NonFiniteValueError,
    NonNumericValueError,
    PredictionError,
    UnknownFeatureError,
)
from sfn_inference.core.ports import InferenceRecorder, TensorModel
from sfn_inference.core.predictions import as_probabilities, top

#: The largest magnitude a float32 input holds (as core.series has it; importing series would cost
#: iris's cold start its dataclasses).
FLOAT32_MAX = float(np.finfo(np.float32).max)

#: A decimal number as text. Stricter than ``float()``, which also takes "1_000", "nan" and "inf".
_NUMBER = re.compile(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?")


@dataclass(frozen=True)
class TabularSchema:
    feature_names: tuple[str, ...]

    @classmethod
    def of(cls, bundle: ModelBundle) -> TabularSchema:
        meta = bundle.metadata
        if meta.kind != "tabular" or meta.feature_names is None:
            raise ModelBundleError(f"{bundle.path} is a {meta.kind} model, not a tabular model")
        return cls(tuple(meta.feature_names))

    def listed(self) -> str:
        return ", ".join(self.feature_names)


@dataclass(frozen=True)
class Record:
    """The validated record, in the model's feature order, and its (1, F) float32 tensor."""

    values: dict[str, float]
    tensor: np.ndarray

    def request(self) -> bytes:
        """The record as a JSON object: what its capture record holds."""
        return json.dumps(self.values, separators=(",", ":")).encode()


def decode_record(record: Any, schema: TabularSchema) -> Record:
    """Validate one record (a JSON object or the query parameters) against the schema."""
    if not isinstance(record, Mapping):
        raise InvalidRequestError(f"the body is not a JSON object of features; send {{{_example(schema)}}}")
    missing = [name for name in schema.feature_names if name not in record]
    if missing:
        raise MissingFeatureError(
            f"missing {', '.join(missing)}: the model takes exactly {schema.listed()}, e.g. {{{_example(schema)}}}"
        )
    unknown = sorted(str(name) for name in record if name not in schema.feature_names)
    if unknown:
        raise UnknownFeatureError(
            f"unknown feature{'s' if len(unknown) > 1 else ''} {', '.join(map(repr, unknown))}: "
            f"the model takes exactly {schema.listed()}"
        )
    values = {name: _number(name, record[name]) for name in schema.feature_names}
    tensor = np.array([[values[name] for name in schema.feature_names]], dtype=np.float32)
    return Record(values, tensor)


def predict(
    record: Any,
    schema: TabularSchema,
    model: TensorModel,
    labels: list[str],
    recorder: InferenceRecorder | None = None,
) -> str:
    """Decode the record, run the model, record the inference; the answer is the top label."""
    decoded = decode_record(record, schema)
    rows = model.run(decoded.tensor).tolist()
    if len(rows) != 1:
        raise PredictionError(f"the model answered {len(rows)} rows for one record")
    probabilities = as_probabilities(rows[0], len(labels))
    if recorder is not None:
        recorder.record(decoded.request(), probabilities)
    return top(probabilities, labels).label


def _number(name: str, value: Any) -> float:
    if type(value) in (int, float):
        number = float(value) if abs(value) <= FLOAT32_MAX else math.inf
    elif isinstance(value, str) and _NUMBER.fullmatch(value.strip()):
        number = float(value)
    elif isinstance(value, str) and value.strip().lower().lstrip("+-") in {"nan", "inf", "infinity"}:
        number = math.nan
    else:
        raise NonNumericValueError(f"{name} is {json.dumps(value)[:40]}, not a number")
    if not abs(number) <= FLOAT32_MAX:
        raise NonFiniteValueError(f"{name} is {json.dumps(value)[:40]}: send a finite number within float32 range")
    return number


def _example(schema: TabularSchema) -> str:
    return ", ".join(f'"{name}": 1.0' for name in schema.feature_names)
