"""iris: four measurements in cm in, the species out (the scikit-learn seed's request and answer).

``POST /iris/predict`` with ``{"sl": 6.9, "sw": 3.1, "pl": 5.1, "pw": 2.3}``, or
``GET /iris/predict?sl=6.9&sw=3.1&pl=5.1&pw=2.3``, answers ``"virginica"``. Invoked directly
with the seed's event (the record itself) it answers ``{"statusCode": 200, "body": "virginica"}``.
"""

from typing import Any

from sfn_inference.adapters.emf import Metrics
from sfn_inference.adapters.lambda_log import Context, LambdaLog
from sfn_inference.core import tabular
from sfn_inference.core.gateway import Request, serve
from sfn_inference.observability import observing, record_inferences
from sfn_inference.roots import iris

# Powertools' log lines and EMF documents, key for key, without Powertools' import (adapters/lambda_log.py).
logger = LambdaLog()
metrics = Metrics()
deps = iris.build()  # once per execution environment: the ONNX session is created during INIT


def predict(request: Request) -> str:
    record = request.query if request.method == "GET" else request.json()
    with observing(metrics):
        label = tabular.predict(record, deps.schema, deps.model, deps.bundle.labels, deps.recorder)
    record_inferences(metrics, [(label, None)])
    return label


@metrics.log_metrics
@logger.inject_lambda_context
def lambda_handler(event: Any, context: Context) -> dict[str, Any]:
    return serve(event, predict)
