"""classify: run the image (or a batch of them) through the configured backend and add the model's answer."""

from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.utilities.typing import LambdaContext

from sfn_inference.core.messages import BatchEvent, ImagePayload, is_batch, parse_model, unwrap_envelope
from sfn_inference.core.stages import classify_batch, classify_one
from sfn_inference.observability import (
    CaptureMeter,
    model_dimensions,
    observing,
    record_batch_items,
    record_inferences,
    traced,
)
from sfn_inference.roots import classify

logger = Logger()
metrics = Metrics()
deps = classify.build()  # once per execution environment: the model loads during INIT
metrics.set_default_dimensions(**model_dimensions(deps.bundle))
meter = CaptureMeter()


@traced
@metrics.log_metrics
@logger.inject_lambda_context(log_event=False)
def lambda_handler(event: Any, context: LambdaContext) -> dict[str, Any]:
    counters = deps.capture.counters if deps.capture else None
    with observing(metrics, timer=deps.timer, capture=counters, meter=meter):
        if is_batch(event):
            items = classify_batch(parse_model(BatchEvent, event), deps.store, deps.predictor)
            record_batch_items(metrics, items)
            return {**event, "items": items}
        event = unwrap_envelope(event)  # the course's serialize answers {"statusCode": 200, "body": ...}
        result = classify_one(parse_model(ImagePayload, event), deps.store, deps.predictor)
        record_inferences(metrics, [(result.label, result.confidence)])
    logger.info("classified", extra={"label": result.label, "confidence": result.confidence})
    return {**event, **result.model_dump(include={"content_type", "inferences", "label", "confidence"})}
