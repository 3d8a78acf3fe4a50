"""fashion: ``POST /fashion/predict`` with ``{"url": ...}``, fetched safely and answered with the
label and every class's probability (the ML Zoomcamp course answered raw logits)."""

import json
from typing import Any
from urllib.parse import urlsplit

from aws_lambda_powertools import Logger
from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response
from aws_lambda_powertools.utilities.typing import LambdaContext

from sfn_inference.adapters.emf import Metrics
from sfn_inference.core.errors import SfnInferenceError
from sfn_inference.core.http import (
    JSON_MEDIA_TYPE,
    UrlRequest,
    answer,
    body_bytes,
    error_body,
    is_http_api_event,
    parse_url_request,
    redact_url,
    require_media_type,
    status_for,
)
from sfn_inference.core.imaging import SNIFF_BYTES, sniff_content_type
from sfn_inference.core.messages import EncodedImage
from sfn_inference.observability import count_errors, record_inferences
from sfn_inference.roots import fashion

logger = Logger()
metrics = Metrics()
deps = fashion.build()  # once per execution environment: the model loads during INIT
logger.info("model loaded", extra={"labels": len(deps.labels)})
app = APIGatewayHttpResolver()


@app.post("/fashion/predict")
def predict() -> dict[str, Any]:
    event = app.current_event
    require_media_type(event.headers.get("content-type"), (JSON_MEDIA_TYPE,))
    return classify(parse_url_request(body_bytes(event.body, bool(event.is_base64_encoded))))


@app.exception_handler(SfnInferenceError)  # type: ignore[misc]  # Powertools leaves it untyped
def named_error(exc: SfnInferenceError) -> Response[str]:
    logger.info("refused", extra={"error": type(exc).__name__, "reason": str(exc)})
    count_errors(metrics, [type(exc).__name__])
    return Response(status_for(exc), "application/json", json.dumps(error_body(exc)))


def classify(request: UrlRequest) -> dict[str, Any]:
    logger.append_keys(url_host=urlsplit(request.url).netloc)  # never the query: it may hold a signature
    assert deps.fetcher is not None  # built by roots.fashion
    data = deps.fetcher.fetch(request.url)
    image = EncodedImage(data, sniff_content_type(data[:SNIFF_BYTES]))
    captured = json.dumps({"url": redact_url(request.url)}).encode()
    prediction = deps.classify(image, request=captured, request_type=JSON_MEDIA_TYPE)
    logger.info("classified", extra={"label": prediction.label, "confidence": prediction.confidence})
    record_inferences(metrics, [(prediction.label, prediction.confidence)])
    return answer(prediction, deps.labels)


@metrics.log_metrics
@logger.inject_lambda_context(log_event=False, clear_state=True)
def lambda_handler(event: Any, context: LambdaContext) -> dict[str, Any]:
    if is_http_api_event(event):
        return app.resolve(event, context)
    return classify(parse_url_request(event))  # the course's {"url": ...}, invoked directly
