"""report: check a batch request before the Map runs; after it, write one row per key (items.jsonl) and the counts."""

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.typing import LambdaContext

from sfn_inference.core.batch_request import CHECK_MODE, CheckedRequest, check_request, write_empty_report
from sfn_inference.core.messages import parse_model
from sfn_inference.core.report import ReportRequest, write_report
from sfn_inference.roots import report

logger = Logger()
deps = report.build()


@logger.inject_lambda_context(log_event=False)
def lambda_handler(event: Any, context: LambdaContext) -> dict[str, Any]:
    if isinstance(event, Mapping) and event.get("mode") == CHECK_MODE:  # the batch's first state
        started = event.get("started_at")
        checked = check_request(
            event.get("request"), str(event.get("execution", "")), deps.settings, deps.store,
            datetime.fromisoformat(started) if isinstance(started, str) else None,
        )  # fmt: skip
        logger.info("batch request", extra=checked.model_dump(mode="json"))
        return checked.model_dump(mode="json")
    if isinstance(event, Mapping) and event.get("empty") is True:  # the check found nothing to list
        summary = write_empty_report(parse_model(CheckedRequest, event), deps.store)
    else:
        summary = write_report(parse_model(ReportRequest, event), deps.store)
    logger.info("batch report", extra={"items": summary["items"], "outcomes": summary["outcomes"]})
    return summary
