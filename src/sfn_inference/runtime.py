"""What a classify execution environment builds once: config, store, predictor, data capture.

Tests inject fakes by assigning ``store`` or ``predictor`` before the first call.
"""

from __future__ import annotations

import atexit
import json
import logging
from collections.abc import Sequence
from typing import Any

from sfn_inference.bundle import ModelBundle, resolve_bundle_dir
from sfn_inference.capture import CaptureConfig, CaptureWriter, open_capture_writer
from sfn_inference.config import ClassifyConfig
from sfn_inference.errors import SfnInferenceError
from sfn_inference.imaging import SNIFF_BYTES, sniff_content_type
from sfn_inference.predictors import ItemResult, LiteRTPredictor, Predictor, SageMakerPredictor
from sfn_inference.store import ObjectStore, S3ObjectStore

log = logging.getLogger(__name__)


class ClassifyRuntime:
    def __init__(self, config: ClassifyConfig | None = None) -> None:
        self._config = config
        self.store: ObjectStore = S3ObjectStore()
        self._predictor: Predictor | None = None
        self._capture: CaptureWriter | None = None
        self._capture_built = False
        self.model_loads = 0
        self.invocations = 0

    @property
    def config(self) -> ClassifyConfig:
        if self._config is None:
            self._config = ClassifyConfig.from_env()
        return self._config

    @property
    def predictor(self) -> Predictor:
        if self._predictor is None:
            predictor = build_predictor(self.config)
            self.model_loads += 1
            writer = self.capture
            self._predictor = predictor if writer is None else CapturingPredictor(predictor, writer)
        return self._predictor

    @predictor.setter
    def predictor(self, value: Predictor) -> None:
        self._predictor = value

    @property
    def capture(self) -> CaptureWriter | None:
        """The data-capture writer, built on first use with the store current then; None when off."""
        if not self._capture_built:
            self._capture = build_capture_writer(self.config, self.store)
            self._capture_built = True
        return self._capture

    def flush_capture(self) -> None:
        """Write the buffered capture file once its window has closed (CAPTURE_MAX_AGE_SECONDS).

        Called at the end of each invocation, because a frozen environment runs no
        background thread. Writing on every invocation would be one S3 PUT per
        inference on the hot path; SageMaker buffers too. What an environment still
        holds when it shuts down is written at exit.
        """
        if self._capture is not None:
            self._capture.flush_if_due()

    def diagnostics(self) -> dict[str, Any]:
        stats: dict[str, Any] = {
            "model_loads": self.model_loads,
            "invocations": self.invocations,
            "backend": self.config.backend,
        }
        if self._capture is not None:
            stats["capture"] = self._capture.counters.as_dict()
        return stats


def build_predictor(config: ClassifyConfig) -> Predictor:
    bundle = ModelBundle(resolve_bundle_dir(config.model_dir))
    if config.backend == "sagemaker":
        assert config.endpoint_name is not None  # checked by ClassifyConfig
        return SageMakerPredictor(config.endpoint_name, bundle.labels)
    return LiteRTPredictor(bundle, num_threads=config.num_threads)


def build_capture_writer(config: ClassifyConfig, store: ObjectStore) -> CaptureWriter | None:
    """A writer when ``CAPTURE_*`` is set and the model runs here; a SageMaker endpoint captures itself."""
    capture = CaptureConfig.from_env()
    if capture is None:
        return None
    if config.backend != "litert":
        log.warning("CAPTURE_* is ignored with BACKEND=%s: configure capture on the endpoint", config.backend)
        return None
    # No background thread: the handler flushes due files at the end of each invocation.
    writer = open_capture_writer(capture, store=store)
    atexit.register(writer.flush)
    return writer


class CapturingPredictor:
    """Records each image and its probabilities as the equivalent endpoint's data capture would:
    the image bytes with their content type in, the JSON list of probabilities out."""

    def __init__(self, inner: Predictor, writer: CaptureWriter) -> None:
        self.inner = inner
        self.labels = inner.labels
        self.writer = writer

    def predict(self, images: Sequence[bytes]) -> list[list[float]]:
        results = self.inner.predict(images)
        for data, probabilities in zip(images, results, strict=True):
            self._record(data, probabilities)
        return results

    def predict_each(self, images: Sequence[bytes]) -> list[ItemResult]:
        results = self.inner.predict_each(images)
        for data, result in zip(images, results, strict=True):
            if not isinstance(result, SfnInferenceError):  # an endpoint records only what it answered
                self._record(data, result)
        return results

    def _record(self, data: bytes, probabilities: list[float]) -> None:
        self.writer.capture(
            input_body=data,
            # The predictor decoded it, so it is a PNG or JPEG: the type SageMakerPredictor would send.
            input_content_type=sniff_content_type(data[:SNIFF_BYTES]),
            output_body=json.dumps(probabilities).encode(),
            output_content_type="application/json",
        )
