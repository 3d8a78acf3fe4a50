"""digits: ``POST /digits/predict`` with a PNG or JPEG body, answered with the TFLite tutorial's
``value`` and ``score`` plus the label and every class's probability."""

from collections.abc import Mapping
from typing import Any

from sfn_inference.adapters.emf import Metrics
from sfn_inference.adapters.lambda_log import Context, LambdaLog
from sfn_inference.core.errors import SfnInferenceError
from sfn_inference.core.gateway import answer_http, header
from sfn_inference.core.http import (
    IMAGE_MEDIA_TYPES,
    answer,
    body_bytes,
    is_http_api_event,
    require_media_type,
    tutorial_image,
)
from sfn_inference.core.imaging import SNIFF_BYTES, sniff_content_type
from sfn_inference.core.wire import EncodedImage
from sfn_inference.observability import count_errors, record_inferences
from sfn_inference.roots import digits

# Powertools' log lines and EMF documents, key for key, without Powertools' or pydantic's import
# on the cold start (adapters/lambda_log.py and adapters/emf.py say why).
logger = LambdaLog()
metrics = Metrics()
deps = digits.build()  # once per execution environment: the model loads during INIT
logger.info("model loaded", labels=len(deps.labels))


def predict(event: Mapping[str, Any]) -> dict[str, Any]:
    """``POST /digits/predict``: the body is the image (API Gateway base64-encodes a binary body)."""
    content_type = require_media_type(header(event, "content-type"), IMAGE_MEDIA_TYPES)
    return classify(body_bytes(event.get("body"), bool(event.get("isBase64Encoded"))), content_type)


def refused(exc: SfnInferenceError) -> None:
    logger.info("refused", error=type(exc).__name__, reason=str(exc))
    count_errors(metrics, [type(exc).__name__])


def classify(data: bytes, content_type: str) -> dict[str, Any]:
    image = EncodedImage(data, sniff_content_type(data[:SNIFF_BYTES]))
    prediction = deps.classify(image, request=data, request_type=content_type)
    logger.info("classified", label=prediction.label, confidence=prediction.confidence)
    record_inferences(metrics, [(prediction.label, prediction.confidence)])
    return answer(prediction, deps.labels, with_index=True)


@metrics.log_metrics
@logger.inject_lambda_context
def lambda_handler(event: Any, context: Context) -> dict[str, Any]:
    if is_http_api_event(event):
        return answer_http(event, predict, refused)
    data, content_type = tutorial_image(event)  # the tutorial's own event, invoked directly
    if content_type is not None:
        content_type = require_media_type(content_type, IMAGE_MEDIA_TYPES)
    return classify(data, content_type or sniff_content_type(data[:SNIFF_BYTES]))
