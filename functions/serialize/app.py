"""serialize: fetch the S3 object named by the event (or each of a batch) and pass it on, inline or by reference."""

from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.typing import LambdaContext

from sfn_inference.adapters.emf import Metrics
from sfn_inference.core.messages import BatchEvent, is_batch, parse_model
from sfn_inference.core.stages import serialize_batch, serialize_object
from sfn_inference.core.triggers import parse_object_event
from sfn_inference.observability import count_errors, observing, traced
from sfn_inference.roots import serialize

logger = Logger()
metrics = Metrics()
deps = serialize.build()


@traced
@metrics.log_metrics
@logger.inject_lambda_context(log_event=False, clear_state=True)  # keys appended below are per object
def lambda_handler(event: Any, context: LambdaContext) -> dict[str, Any]:
    with observing(metrics):
        if is_batch(event):
            items = serialize_batch(parse_model(BatchEvent, event), deps.store)
            count_errors(metrics, [str(i["error"]) for i in items if i.get("outcome") == "error"])
            return {**event, "items": items}
        ref = parse_object_event(event)
        logger.append_keys(s3_bucket=ref.bucket, s3_key=ref.key)
        payload = serialize_object(ref, deps.store)
    logger.info("serialized", extra={"transport": payload.transport, "size_bytes": payload.size_bytes})
    return payload.model_dump(exclude_none=True)
