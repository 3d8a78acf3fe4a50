"""What an HTTP image route is built from: the model, the capture writer and, for URLs, the fetcher."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import TYPE_CHECKING

from sfn_inference.core.bundle import ModelBundle, resolve_bundle_dir
from sfn_inference.core.http import JSON_MEDIA_TYPE, predict_one
from sfn_inference.core.ports import Predictor
from sfn_inference.core.predictions import Prediction
from sfn_inference.core.settings import ImageApiConfig
from sfn_inference.core.wire import EncodedImage
from sfn_inference.datacapture.writer import CaptureWriter

if TYPE_CHECKING:  # http.client and ssl stay off the bytes route's cold start
    from sfn_inference.adapters.url_fetch import UrlFetcher


@dataclass
class ImageRoute:
    settings: ImageApiConfig
    predictor: Predictor
    capture: CaptureWriter | None
    fetcher: UrlFetcher | None = None

    @property
    def labels(self) -> list[str]:
        return self.predictor.labels

    def classify(self, image: EncodedImage, *, request: bytes, request_type: str) -> Prediction:
        """Predict, and capture the request as it came (its body and Content-Type) with the
        probabilities as the output, as a SageMaker endpoint behind this route would."""
        prediction = predict_one(image, self.predictor)
        if self.capture is not None:  # never raises: a capture failure is counted, not the request's
            self.capture.capture(
                input_body=request,
                input_content_type=request_type,
                output_body=json.dumps(prediction.probabilities).encode(),
                output_content_type=JSON_MEDIA_TYPE,
            )
        return prediction


def litert_predictor(settings: ImageApiConfig, default_bundle: str) -> Predictor:
    from sfn_inference.adapters.litert import LiteRTImagePredictor  # noqa: PLC0415 - LiteRT only when used

    bundle = ModelBundle(resolve_bundle_dir(settings.model_dir or default_bundle))
    return LiteRTImagePredictor(bundle, num_threads=settings.num_threads)
