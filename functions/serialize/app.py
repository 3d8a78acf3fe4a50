"""serialize: fetch the S3 object named by the event and pass it on, inline or by reference."""

from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.typing import LambdaContext

from sfn_inference.batch import parse_batch, serialize_batch
from sfn_inference.events import parse_object_event
from sfn_inference.pipeline import serialize_object
from sfn_inference.store import ObjectStore, S3ObjectStore

logger = Logger()
store: ObjectStore = S3ObjectStore()


@logger.inject_lambda_context(log_event=False, clear_state=True)  # keys appended below are per object
def lambda_handler(event: Any, context: LambdaContext) -> dict[str, Any]:
    if isinstance(event, dict) and "items" in event:  # a Distributed Map batch of listed keys
        batch = parse_batch(event)
        return {**event, "items": serialize_batch(batch, store)}
    ref = parse_object_event(event)
    logger.append_keys(s3_bucket=ref.bucket, s3_key=ref.key)
    payload = serialize_object(ref, store)
    logger.info("serialized", extra={"transport": payload.transport, "size_bytes": payload.size_bytes})
    return payload.model_dump(exclude_none=True)
