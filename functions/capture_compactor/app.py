"""capture_compactor: turn capture log lines (a CloudWatch Logs subscription) into SageMaker capture files."""

from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.typing import LambdaContext

from sfn_inference.datacapture.compaction import compact, decode_subscription
from sfn_inference.datacapture.writer import sink_for
from sfn_inference.roots import capture_compactor

logger = Logger()
deps = capture_compactor.build()


@logger.inject_lambda_context(log_event=False)
def lambda_handler(event: Any, context: LambdaContext) -> dict[str, Any]:
    result = compact(decode_subscription(event))
    for file in result.files:  # a failed write raises: the delivery is retried, and the same files rewritten
        sink_for(file.destination, deps.store).write(file.path, file.body)
    if result.malformed:
        logger.error("capture lines that cannot be read", extra={"malformed": result.malformed[:20]})
    summary = {"files": len(result.files), "records": result.records, "malformed": len(result.malformed)}
    logger.info("compacted captures", extra={**summary, "ignored": result.ignored})
    return summary
