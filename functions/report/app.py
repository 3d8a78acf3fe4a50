"""report: after a batch, write one row per key (items.jsonl) and the counts (summary.json)."""

from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.typing import LambdaContext

from sfn_inference.core.messages import parse_model
from sfn_inference.core.report import ReportRequest, write_report
from sfn_inference.roots import report

logger = Logger()
deps = report.build()


@logger.inject_lambda_context(log_event=False)
def lambda_handler(event: Any, context: LambdaContext) -> dict[str, Any]:
    summary = write_report(parse_model(ReportRequest, event), deps.store)
    logger.info("batch report", extra={"items": summary["items"], "outcomes": summary["outcomes"]})
    return summary
