"""filter: fail with LowConfidenceError when the top confidence is below the threshold (a batch settles every item)."""

from collections.abc import Mapping
from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.typing import LambdaContext

from sfn_inference.core.messages import BatchEvent, is_batch, parse_model
from sfn_inference.core.stages import check_confidence, filter_batch
from sfn_inference.roots import filter as filter_root

logger = Logger()
deps = filter_root.build()


@logger.inject_lambda_context(log_event=False)
def lambda_handler(event: Any, context: LambdaContext) -> Mapping[str, Any]:
    threshold = deps.settings.threshold
    if is_batch(event):  # settle every item, raise for none
        return {"rows": filter_batch(parse_model(BatchEvent, event), threshold)}
    return check_confidence(event, threshold)
