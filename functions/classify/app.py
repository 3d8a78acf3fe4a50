"""classify: run the image (or a batch of them) through the configured backend and add the model's answer."""

from typing import Any

from sfn_inference.adapters.emf import Metrics
from sfn_inference.adapters.lambda_log import Context, LambdaLog
from sfn_inference.core.fastpath import classify_event
from sfn_inference.core.wire import is_batch
from sfn_inference.observability import (
    CaptureMeter,
    model_dimensions,
    observing,
    record_batch_items,
    record_inferences,
    traced,
)
from sfn_inference.roots import classify

# Powertools' log lines, key for key, at a tenth of the cost (adapters/lambda_log.py says why).
logger = LambdaLog()
metrics = Metrics()
deps = classify.build()  # once per execution environment: the model loads during INIT
metrics.set_default_dimensions(**model_dimensions(deps.bundle))
meter = CaptureMeter()


@traced
@metrics.log_metrics
@logger.inject_lambda_context
def lambda_handler(event: Any, context: Context) -> dict[str, Any]:
    counters = deps.capture.counters if deps.capture else None
    with observing(metrics, timer=deps.timer, capture=counters, meter=meter):
        answer = classify_event(event, deps.store, deps.predictor)
        if is_batch(event):
            record_batch_items(metrics, answer["items"])
            return answer
        record_inferences(metrics, [(answer["label"], answer["confidence"])])
    logger.info("classified", label=answer["label"], confidence=answer["confidence"])
    return answer
