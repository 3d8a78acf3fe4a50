"""filter: fail with LowConfidenceError when the top confidence is below the threshold (a batch settles every item)."""

from collections.abc import Mapping
from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.typing import LambdaContext

from sfn_inference.adapters.emf import COUNT, Metrics
from sfn_inference.core.errors import LowConfidenceError
from sfn_inference.core.messages import BatchEvent, is_batch, parse_model
from sfn_inference.core.stages import check_confidence, filter_batch
from sfn_inference.observability import observing, traced
from sfn_inference.roots import filter as filter_root

logger = Logger()
metrics = Metrics()
deps = filter_root.build()


@traced
@metrics.log_metrics
@logger.inject_lambda_context(log_event=False)
def lambda_handler(event: Any, context: LambdaContext) -> Mapping[str, Any]:
    threshold = deps.settings.threshold
    with observing(metrics):
        if is_batch(event):  # settle every item, raise for none
            rows = filter_batch(parse_model(BatchEvent, event), threshold)
            low = sum(r["outcome"] == "low_confidence" for r in rows)
            metrics.add_metric(name="LowConfidence", unit=COUNT, value=low)
            return {"rows": rows}
        try:
            return check_confidence(event, threshold)
        except LowConfidenceError:
            metrics.add_metric(name="LowConfidence", unit=COUNT, value=1)
            raise
