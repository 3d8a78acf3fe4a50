"""classify: run the image (or a batch of them) through the configured backend and add the model's answer."""

from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.typing import LambdaContext

from sfn_inference.core.messages import BatchEvent, ImagePayload, is_batch, parse_model, unwrap_envelope
from sfn_inference.core.stages import classify_batch, classify_one
from sfn_inference.roots import classify

logger = Logger()
deps = classify.build()  # once per execution environment: the model loads during INIT


@logger.inject_lambda_context(log_event=False)
def lambda_handler(event: Any, context: LambdaContext) -> dict[str, Any]:
    if is_batch(event):
        return {**event, "items": classify_batch(parse_model(BatchEvent, event), deps.store, deps.predictor)}
    event = unwrap_envelope(event)  # the course's serialize answers {"statusCode": 200, "body": ...}
    result = classify_one(parse_model(ImagePayload, event), deps.store, deps.predictor)
    logger.info("classified", extra={"label": result.label, "confidence": result.confidence})
    return {**event, **result.model_dump(include={"content_type", "inferences", "label", "confidence"})}
