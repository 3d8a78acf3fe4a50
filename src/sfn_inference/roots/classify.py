"""classify's dependencies: settings, the object store, the predictor and the capture writer."""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from sfn_inference.adapters.s3 import S3ObjectStore
from sfn_inference.core.bundle import ModelBundle, resolve_bundle_dir
from sfn_inference.core.errors import SfnInferenceError
from sfn_inference.core.ports import ItemResult, ObjectStore, Predictor
from sfn_inference.core.settings import ClassifyConfig
from sfn_inference.core.wire import EncodedImage, json_floats
from sfn_inference.datacapture.config import CaptureConfig
from sfn_inference.datacapture.logstream import LogStreamWriter
from sfn_inference.datacapture.writer import CaptureWriter, sink_for

log = logging.getLogger(__name__)


@dataclass
class Classify:
    settings: ClassifyConfig
    store: ObjectStore
    bundle: ModelBundle
    predictor: Predictor
    capture: CaptureWriter | None
    timer: TimedPredictor


def build(
    settings: ClassifyConfig | None = None,
    *,
    store: ObjectStore | None = None,
    predictor: Predictor | None = None,
    env: Mapping[str, str] | None = None,
) -> Classify:
    settings = settings or ClassifyConfig.from_env(env)
    store = store or S3ObjectStore()
    bundle = ModelBundle(resolve_bundle_dir(settings.model_dir))
    timer = TimedPredictor(predictor or build_predictor(settings, bundle))
    capture = build_capture_writer(settings, store, env)
    outer: Predictor = timer if capture is None else CapturingPredictor(timer, capture)
    return Classify(settings, store, bundle, outer, capture, timer)


def build_predictor(settings: ClassifyConfig, bundle: ModelBundle) -> Predictor:
    if settings.backend == "sagemaker":
        from sfn_inference.adapters.sagemaker_endpoint import SageMakerPredictor  # noqa: PLC0415 - boto3

        assert settings.endpoint_name is not None  # checked by ClassifyConfig
        return SageMakerPredictor(settings.endpoint_name, bundle.labels)
    from sfn_inference.adapters.litert import LiteRTImagePredictor  # noqa: PLC0415 - LiteRT only when used

    return LiteRTImagePredictor(bundle, num_threads=settings.num_threads)


def build_capture_writer(
    settings: ClassifyConfig, store: ObjectStore, env: Mapping[str, str] | None = None
) -> CaptureWriter | None:
    """A writer when ``CAPTURE_*`` is set and the model runs here; a SageMaker endpoint captures itself.

    Records go to the log stream as the inference happens (see datacapture.logstream): nothing
    is buffered in the environment, so nothing is lost when Lambda freezes or retires it.
    """
    capture = CaptureConfig.from_env(env)
    if capture is None:
        return None
    if settings.backend != "litert":
        log.warning("CAPTURE_* is ignored with BACKEND=%s: configure capture on the endpoint", settings.backend)
        return None
    return LogStreamWriter(capture, sink_for(capture.data_capture.destination_s3_uri, store))


class CapturingPredictor:
    """Records each answered image and its probabilities as the equivalent endpoint's data capture
    would: the image bytes with their content type in, the JSON list of probabilities out."""

    def __init__(self, inner: Predictor, writer: CaptureWriter) -> None:
        self.inner = inner
        self.labels = inner.labels
        self.writer = writer

    def predict(self, images: Sequence[EncodedImage]) -> list[ItemResult]:
        results = self.inner.predict(images)
        self.writer.capture_many(
            [
                (image.data, image.content_type, json_floats(result).encode(), "application/json")
                for image, result in zip(images, results, strict=True)
                if not isinstance(result, SfnInferenceError)  # an endpoint records only what it answered
            ]
        )
        return results


class TimedPredictor:
    """The model's own time (LiteRT, or the endpoint round trip), summed until :meth:`take`."""

    def __init__(self, inner: Predictor) -> None:
        self.inner = inner
        self.labels = inner.labels
        self._seconds = 0.0

    def predict(self, images: Sequence[EncodedImage]) -> list[ItemResult]:
        started = time.perf_counter()
        try:
            return self.inner.predict(images)
        finally:
            self._seconds += time.perf_counter() - started

    def take(self) -> float:
        """Seconds spent predicting since the last call."""
        seconds, self._seconds = self._seconds, 0.0
        return seconds
