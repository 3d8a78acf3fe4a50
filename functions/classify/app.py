"""classify: run the image (or a batch of them) through the configured backend and add the model's answer."""

from typing import Any

from sfn_inference.adapters.lambda_log import Context, LambdaLog
from sfn_inference.core.fastpath import classify_event
from sfn_inference.roots import classify

# Powertools' log lines, key for key, at a tenth of the cost (adapters/lambda_log.py says why).
logger = LambdaLog()
deps = classify.build()  # once per execution environment: the model loads during INIT


@logger.inject_lambda_context
def lambda_handler(event: Any, context: Context) -> dict[str, Any]:
    answer = classify_event(event, deps.store, deps.predictor)
    if "label" in answer:  # one image (a batch's answers are its items)
        logger.info("classified", label=answer["label"], confidence=answer["confidence"])
    return answer
