"""fashion: ``POST /fashion/predict`` with ``{"url": ...}``, fetched safely and answered with the
label and every class's probability (the ML Zoomcamp course answered raw logits)."""

import json
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

from sfn_inference.adapters.emf import Metrics
from sfn_inference.adapters.lambda_log import Context, LambdaLog
from sfn_inference.core.errors import SfnInferenceError
from sfn_inference.core.gateway import answer_http, header
from sfn_inference.core.http import (
    JSON_MEDIA_TYPE,
    UrlRequest,
    answer,
    body_bytes,
    is_http_api_event,
    parse_url_request,
    redact_url,
    require_media_type,
)
from sfn_inference.core.imaging import SNIFF_BYTES, sniff_content_type
from sfn_inference.core.wire import EncodedImage
from sfn_inference.observability import count_errors, record_inferences
from sfn_inference.roots import fashion

# Powertools' log lines and EMF documents, key for key, without Powertools' or pydantic's import
# on the cold start (adapters/lambda_log.py and adapters/emf.py say why).
logger = LambdaLog()
metrics = Metrics()
deps = fashion.build()  # once per execution environment: the model loads during INIT
logger.info("model loaded", labels=len(deps.labels))


def predict(event: Mapping[str, Any]) -> dict[str, Any]:
    """``POST /fashion/predict``: the body is ``{"url": ...}`` as JSON."""
    require_media_type(header(event, "content-type"), (JSON_MEDIA_TYPE,))
    return classify(parse_url_request(body_bytes(event.get("body"), bool(event.get("isBase64Encoded")))))


def refused(exc: SfnInferenceError) -> None:
    logger.info("refused", error=type(exc).__name__, reason=str(exc))
    count_errors(metrics, [type(exc).__name__])


def classify(request: UrlRequest) -> dict[str, Any]:
    logger.append_keys(url_host=urlsplit(request.url).netloc)  # never the query: it may hold a signature
    assert deps.fetcher is not None  # built by roots.fashion
    data = deps.fetcher.fetch(request.url)
    image = EncodedImage(data, sniff_content_type(data[:SNIFF_BYTES]))
    captured = json.dumps({"url": redact_url(request.url)}).encode()
    prediction = deps.classify(image, request=captured, request_type=JSON_MEDIA_TYPE)
    logger.info("classified", label=prediction.label, confidence=prediction.confidence)
    record_inferences(metrics, [(prediction.label, prediction.confidence)])
    return answer(prediction, deps.labels)


@metrics.log_metrics
@logger.inject_lambda_context  # a request's url_host is dropped before the next one (clear_state)
def lambda_handler(event: Any, context: Context) -> dict[str, Any]:
    if is_http_api_event(event):
        return answer_http(event, predict, refused)
    return classify(parse_url_request(event))  # the course's {"url": ...}, invoked directly
