"""digits: ``POST /digits/predict`` with a PNG or JPEG body, answered with the TFLite tutorial's
``value`` and ``score`` plus the label and every class's probability."""

import json
from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response
from aws_lambda_powertools.utilities.typing import LambdaContext

from sfn_inference.adapters.emf import Metrics
from sfn_inference.core.errors import SfnInferenceError
from sfn_inference.core.http import (
    IMAGE_MEDIA_TYPES,
    answer,
    body_bytes,
    error_body,
    is_http_api_event,
    require_media_type,
    status_for,
    tutorial_image,
)
from sfn_inference.core.imaging import SNIFF_BYTES, sniff_content_type
from sfn_inference.core.messages import EncodedImage
from sfn_inference.observability import count_errors, record_inferences
from sfn_inference.roots import digits

logger = Logger()
metrics = Metrics()
deps = digits.build()  # once per execution environment: the model loads during INIT
logger.info("model loaded", extra={"labels": len(deps.labels)})
app = APIGatewayHttpResolver()


@app.post("/digits/predict")
def predict() -> dict[str, Any]:
    event = app.current_event
    content_type = require_media_type(event.headers.get("content-type"), IMAGE_MEDIA_TYPES)
    return classify(body_bytes(event.body, bool(event.is_base64_encoded)), content_type)


@app.exception_handler(SfnInferenceError)  # type: ignore[misc]  # Powertools leaves it untyped
def named_error(exc: SfnInferenceError) -> Response[str]:
    logger.info("refused", extra={"error": type(exc).__name__, "reason": str(exc)})
    count_errors(metrics, [type(exc).__name__])
    return Response(status_for(exc), "application/json", json.dumps(error_body(exc)))


def classify(data: bytes, content_type: str) -> dict[str, Any]:
    image = EncodedImage(data, sniff_content_type(data[:SNIFF_BYTES]))
    prediction = deps.classify(image, request=data, request_type=content_type)
    logger.info("classified", extra={"label": prediction.label, "confidence": prediction.confidence})
    record_inferences(metrics, [(prediction.label, prediction.confidence)])
    return answer(prediction, deps.labels, with_index=True)


@metrics.log_metrics
@logger.inject_lambda_context(log_event=False)
def lambda_handler(event: Any, context: LambdaContext) -> dict[str, Any]:
    if is_http_api_event(event):
        return app.resolve(event, context)
    data, content_type = tutorial_image(event)  # the tutorial's own event, invoked directly
    if content_type is not None:
        content_type = require_media_type(content_type, IMAGE_MEDIA_TYPES)
    return classify(data, content_type or sniff_content_type(data[:SNIFF_BYTES]))
