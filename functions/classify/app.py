"""classify: run the image through the configured backend and add the model's answer."""

from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.typing import LambdaContext

from sfn_inference.batch import classify_batch, parse_batch
from sfn_inference.payload import ImagePayload, parse_model
from sfn_inference.pipeline import classify_payloads
from sfn_inference.runtime import ClassifyRuntime

logger = Logger()
#: Built on first use and kept for the life of the execution environment (warm starts reuse it).
runtime = ClassifyRuntime()


@logger.inject_lambda_context(log_event=False)
def lambda_handler(event: Any, context: LambdaContext) -> dict[str, Any]:
    runtime.invocations += 1
    if isinstance(event, dict) and event.get("diagnostics") is True:
        return runtime.diagnostics()
    try:
        # With CAPTURE_* set, runtime.predictor also records each image and its probabilities.
        if isinstance(event, dict) and "items" in event:
            batch = parse_batch(event)
            return {**event, "items": classify_batch(batch, runtime.store, runtime.predictor)}
        payload = parse_model(ImagePayload, event)
        [result] = classify_payloads([payload], runtime.store, runtime.predictor)
    finally:
        runtime.flush_capture()  # writes the buffered capture file once its window has closed
    logger.info("classified", extra={"label": result.label, "confidence": result.confidence})
    return {**event, **result.model_dump(include={"inferences", "label", "confidence"})}
