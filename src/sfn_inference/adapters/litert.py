"""LiteRT in-process: a model with a resizable batch dimension, and the image predictor on it.

Pillow (through :mod:`sfn_inference.core.imaging`) is imported by the image predictor only:
the series functions run :class:`LiteRTModel` from artifacts that do not ship it.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from sfn_inference.core.bundle import ModelBundle
from sfn_inference.core.errors import SfnInferenceError
from sfn_inference.core.ports import ItemResult
from sfn_inference.core.predictions import probability_rows
from sfn_inference.core.wire import EncodedImage


class LiteRTModel:
    """One interpreter; ``run`` takes an (N, ...) float32 tensor and is one ``invoke``. Not thread-safe."""

    def __init__(self, model_path: Path, num_threads: int) -> None:
        from ai_edge_litert.interpreter import Interpreter  # noqa: PLC0415 - heavy, load once

        self._interpreter = Interpreter(model_path=str(model_path), num_threads=num_threads)
        details = self._interpreter.get_input_details()[0]
        self._input = details["index"]
        self._sample_shape = [int(d) for d in details["shape"][1:]]
        self._output = self._interpreter.get_output_details()[0]["index"]
        self._batch = 0
        self._resize(1)

    def _resize(self, batch: int) -> None:
        if batch != self._batch:
            self._interpreter.resize_tensor_input(self._input, [batch, *self._sample_shape], strict=False)
            self._interpreter.allocate_tensors()
            self._batch = batch

    def run(self, batch: np.ndarray) -> np.ndarray:
        self._resize(batch.shape[0])
        self._interpreter.set_tensor(self._input, batch)
        self._interpreter.invoke()
        out: np.ndarray = self._interpreter.get_tensor(self._output)
        return out


class LiteRTImagePredictor:
    """Decode each image on its own, then run every decodable one in a single ``invoke``."""

    def __init__(self, bundle: ModelBundle, num_threads: int) -> None:
        from sfn_inference.core.imaging import image_samples  # noqa: PLC0415 - image models only

        self._to_tensor = image_samples
        self.bundle = bundle
        self.labels = bundle.labels
        self.model = LiteRTModel(bundle.model_path, num_threads)

    def predict(self, images: Sequence[EncodedImage]) -> list[ItemResult]:
        results: list[ItemResult | None] = []
        tensors, positions = [], []
        for i, image in enumerate(images):
            try:
                tensors.append(self._to_tensor(image.data, self.bundle.preprocessing))
                positions.append(i)
                results.append(None)
            except SfnInferenceError as exc:
                results.append(exc)
        if tensors:
            rows = probability_rows(self.model.run(self._batch(tensors)), len(self.labels))
            for i, row in zip(positions, rows, strict=True):
                results[i] = row
        return [r for r in results if r is not None]

    def _batch(self, samples: list[np.ndarray]) -> np.ndarray:
        """One float32 batch, each image normalised into its slot (:func:`normalise`'s arithmetic,
        element by element: the same bits). Whole-batch temporaries would be large enough for
        malloc to map fresh pages each time: three times slower at batch 16."""
        spec = self.bundle.preprocessing
        batch = np.empty((len(samples), *samples[0].shape), np.float32)
        scale, offset = np.float32(spec.scale), np.float32(spec.offset)
        for slot, sample in zip(batch, samples, strict=True):
            if sample.dtype == np.uint8:
                np.multiply(sample, scale, out=slot, dtype=np.float32)
                np.subtract(slot, offset, out=slot)
            else:
                slot[...] = sample
        return batch
