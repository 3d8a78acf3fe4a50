"""monitor: compare the last window of captures with the model's baseline; report and alarm on drift."""

from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.typing import LambdaContext

from sfn_inference.adapters.emf import COUNT, NO_UNIT, Metrics
from sfn_inference.monitoring.request import window_of
from sfn_inference.monitoring.run import monitor
from sfn_inference.roots import monitor as monitor_root

logger = Logger()
metrics = Metrics()
deps = monitor_root.build()


@metrics.log_metrics
@logger.inject_lambda_context(log_event=False)
def lambda_handler(event: Any, context: LambdaContext) -> dict[str, Any]:
    window = window_of(event, deps.settings.window_minutes)
    report = monitor(
        deps.store,
        source=deps.source,
        output=deps.output,
        endpoint=deps.settings.endpoint_name,
        window=window,
        bundle=deps.bundle,
        baseline=deps.baseline,
        limits=deps.limits,
    )
    metrics.add_dimension("Stack", deps.settings.stack_name)
    metrics.add_metric(name="MonitoredInferences", unit=COUNT, value=report["item_count"])
    metrics.add_metric(name="ConstraintViolations", unit=COUNT, value=len(report["violations"]))
    for check in report["checks"]:
        metrics.add_metric(name=f"Drift_{check['name']}", unit=NO_UNIT, value=check["value"])
    logger.info("monitoring run", extra={k: report[k] for k in ("status", "item_count", "window", "report_prefix")})
    return report
