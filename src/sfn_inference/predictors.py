"""Predictors: image bytes in, probability vectors out.

``LiteRTPredictor`` runs the bundle in-process; ``SageMakerPredictor`` speaks the
built-in image-classification algorithm's contract (an image body in, a JSON
list of probabilities out), so any such endpoint, ours or AWS's, fits behind it.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np

from sfn_inference.bundle import ModelBundle
from sfn_inference.errors import EndpointError, PredictionError, SfnInferenceError
from sfn_inference.imaging import image_to_tensor, sniff_content_type

#: How far a probability vector may sum from 1 before it is rejected rather than renormalised.
SUM_TOLERANCE = 1e-3


@dataclass(frozen=True)
class Prediction:
    probabilities: list[float]
    label: str
    confidence: float


#: One image's answer in a batch: its probabilities, or the named error that image raised.
ItemResult = list[float] | SfnInferenceError


class Predictor(Protocol):
    labels: list[str]

    def predict(self, images: Sequence[bytes]) -> list[list[float]]: ...

    def predict_each(self, images: Sequence[bytes]) -> list[ItemResult]:
        """Like ``predict``, but one bad image is that image's error, not the batch's."""
        ...


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


class LiteRTPredictor:
    """The bundle's .tflite model in a LiteRT interpreter, one ``invoke`` per batch."""

    def __init__(self, bundle: ModelBundle, num_threads: int) -> None:
        from ai_edge_litert.interpreter import Interpreter  # noqa: PLC0415 - heavy, load once

        self.bundle = bundle
        self.labels = bundle.labels
        self.num_threads = num_threads
        self._interpreter = Interpreter(model_path=str(bundle.model_path), num_threads=num_threads)
        self._input = self._interpreter.get_input_details()[0]["index"]
        self._output = self._interpreter.get_output_details()[0]["index"]
        self._batch = 0
        self._resize(1)

    def _resize(self, batch: int) -> None:
        if batch != self._batch:
            _, h, w, c = self.bundle.metadata.input_shape
            self._interpreter.resize_tensor_input(self._input, [batch, h, w, c], strict=False)
            self._interpreter.allocate_tensors()
            self._batch = batch

    def predict_tensor(self, batch: np.ndarray) -> np.ndarray:
        """The model's own cost: one preprocessed (N, H, W, C) tensor, one ``invoke``."""
        self._resize(batch.shape[0])
        self._interpreter.set_tensor(self._input, batch)
        self._interpreter.invoke()
        out: np.ndarray = self._interpreter.get_tensor(self._output)
        return out

    def predict(self, images: Sequence[bytes]) -> list[list[float]]:
        spec = self.bundle.preprocessing
        batch = np.stack([image_to_tensor(data, spec) for data in images])
        return [as_probabilities(row, len(self.labels)) for row in self.predict_tensor(batch).tolist()]

    def predict_each(self, images: Sequence[bytes]) -> list[ItemResult]:
        """Decode each image on its own, then run every decodable one in a single ``invoke``."""
        results: list[ItemResult | None] = []
        tensors, positions = [], []
        for i, data in enumerate(images):
            try:
                tensors.append(image_to_tensor(data, self.bundle.preprocessing))
                positions.append(i)
                results.append(None)
            except SfnInferenceError as exc:
                results.append(exc)
        if tensors:
            rows = self.predict_tensor(np.stack(tensors)).tolist()
            for i, row in zip(positions, rows, strict=True):
                try:
                    results[i] = as_probabilities(row, len(self.labels))
                except SfnInferenceError as exc:
                    results[i] = exc
        return [r for r in results if r is not None]


class SageMakerPredictor:
    """``sagemaker-runtime`` InvokeEndpoint with the image bytes, one request per image."""

    def __init__(self, endpoint_name: str, labels: list[str], client: Any = None) -> None:
        self.endpoint_name = endpoint_name
        self.labels = labels
        self._client = client

    @property
    def client(self) -> Any:
        if self._client is None:
            from sfn_inference.store import boto3_client  # noqa: PLC0415

            self._client = boto3_client("sagemaker-runtime")
        return self._client

    def predict(self, images: Sequence[bytes]) -> list[list[float]]:
        return [self._invoke(data) for data in images]

    def predict_each(self, images: Sequence[bytes]) -> list[ItemResult]:
        """One request per image (the built-in algorithm's contract); a rejected image is its own error."""
        results: list[ItemResult] = []
        for data in images:
            try:
                results.append(self._invoke(data))
            except SfnInferenceError as exc:
                results.append(exc)
        return results

    def _invoke(self, data: bytes) -> list[float]:
        content_type = sniff_content_type(data[:8])
        try:
            response = self.client.invoke_endpoint(
                EndpointName=self.endpoint_name, ContentType=content_type, Accept="application/json", Body=data
            )
        except Exception as exc:
            error = getattr(exc, "response", {}).get("Error", {})
            if not error:
                raise EndpointError(f"{self.endpoint_name}: {exc}") from exc
            raise EndpointError(f"{self.endpoint_name}: {error.get('Code')}: {error.get('Message')}") from None
        body = response["Body"].read()
        try:
            values = json.loads(body)
        except (json.JSONDecodeError, UnicodeDecodeError):
            raise PredictionError(f"{self.endpoint_name} returned non-JSON: {body[:80]!r}") from None
        if not isinstance(values, list) or not all(isinstance(v, int | float) for v in values):
            raise PredictionError(f"{self.endpoint_name} returned {type(values).__name__}, not a list of numbers")
        return as_probabilities(values, len(self.labels))
