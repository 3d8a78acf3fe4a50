"""classify: run the image through the configured backend and add the model's answer."""

from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.typing import LambdaContext

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
    payload = parse_model(ImagePayload, event)
    try:
        # With CAPTURE_* set, runtime.predictor also records each image and its probabilities.
        [result] = classify_payloads([payload], runtime.store, runtime.predictor)
    finally:
        runtime.flush_capture()  # buffered: write it before the environment can freeze
    logger.info("classified", extra={"label": result.label, "confidence": result.confidence})
    return {**event, **result.model_dump(include={"inferences", "label", "confidence"})}
