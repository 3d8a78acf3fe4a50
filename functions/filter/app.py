"""filter: fail with LowConfidenceError when the top confidence is below the threshold."""

from collections.abc import Mapping
from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.typing import LambdaContext

from sfn_inference.batch import filter_batch, parse_batch
from sfn_inference.config import FilterConfig
from sfn_inference.pipeline import check_confidence

logger = Logger()


@logger.inject_lambda_context(log_event=False)
def lambda_handler(event: Any, context: LambdaContext) -> Mapping[str, Any]:
    threshold = FilterConfig.from_env().threshold
    if isinstance(event, dict) and "items" in event:  # batch: settle every item, raise for none
        return {"rows": filter_batch(parse_batch(event), threshold)}
    return check_confidence(event, threshold)
