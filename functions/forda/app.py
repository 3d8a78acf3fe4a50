"""forda: N time series of 500 values in, one class per series out (the FordA seed's request and answer).

``POST /forda/predict`` (and the seed's ``POST /v1/predict``) with ``{"items": [[...500 numbers...], ...]}``
answers ``{"result": {"Class": 1, "Probabilities": [...]}}`` for one series, a list of those for
several. Invoked directly, it takes the seed's event (``{"body": "<JSON>"}``, or the request itself).
"""

from typing import Any

from sfn_inference.adapters.emf import Metrics
from sfn_inference.adapters.lambda_log import Context, LambdaLog
from sfn_inference.core import series
from sfn_inference.core.gateway import Request, serve
from sfn_inference.observability import observing, record_inferences
from sfn_inference.roots import forda

# Powertools' log lines and EMF documents, key for key, without Powertools' import (adapters/lambda_log.py).
logger = LambdaLog()
metrics = Metrics()
deps = forda.build()  # once per execution environment: the model loads during INIT


def predict(request: Request) -> Any:
    with observing(metrics):
        probabilities = series.predict(request.json(), deps.schema, deps.model, len(deps.bundle.labels), deps.recorder)
    labels = deps.bundle.labels
    record_inferences(metrics, [(labels[p.index(max(p))], max(p)) for p in probabilities])
    return series.answer(probabilities)


@metrics.log_metrics
@logger.inject_lambda_context
def lambda_handler(event: Any, context: Context) -> dict[str, Any]:
    return serve(event, predict)
