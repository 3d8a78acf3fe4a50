"""The FordA and scikit-learn tutorials' own requests, sent to the local cloud as their users sent them.

- FordA (``000_*`` seed): its ``lambda_test.py`` posts test series as ``{"items": [N×500×1]}``
  and prints ``True Label`` / ``Predicted Label``. Here: each committed reference series
  (rows of the UCR test split) on its own, then all eight in one request.
- scikit-learn (``003_*`` seed): the test event ``{"sl": 6.9, "sw": 3.1, "pl": 5.1, "pw": 2.3}``,
  whose answer is ``virginica``, by POST and by GET query parameters.

Each request goes over HTTP to the stack's HTTP API (on the local cloud, its data plane: what
``sfn-inference env`` exports as ``SFN_API_URL``), or, given no API URL, is a direct Lambda
invocation with the seed's own event.
"""

from __future__ import annotations

import json
import urllib.parse
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sfn_workbench.paths import project_root

SEED_IRIS = {"sl": 6.9, "sw": 3.1, "pl": 5.1, "pw": 2.3}
#: Generous for a cold start of a function on a busy laptop.
TIMEOUT_S = 60.0


@dataclass(frozen=True)
class Exchange:
    """One request and what came back."""

    system: str
    request: str
    answer: Any
    expected: Any

    @property
    def ok(self) -> bool:
        return bool(self.answer == self.expected)


def reference_series() -> list[dict[str, Any]]:
    data: list[dict[str, Any]] = json.loads(
        (project_root() / "models" / "forda" / "reference" / "series.json").read_text()
    )
    return data


class Transport:
    """HTTP to ``api_url`` when given; else a direct invocation with the seed's event."""

    def __init__(self, outputs: dict[str, Any], invoke: Callable[[str, Any], Any], api_url: str = "") -> None:
        self.base = api_url.rstrip("/")
        self.functions = {"forda": outputs["FordaFunctionName"], "iris": outputs["IrisFunctionName"]}
        self.invoke = invoke

    @property
    def how(self) -> str:
        return f"HTTP API {self.base}" if self.base else "direct Lambda invocations (no HTTP API in this stack)"

    def forda(self, series: list[list[float]]) -> Any:
        body = {"items": [[[v] for v in s] for s in series]}  # the seed's N×500×1
        if self.base:
            return _http("POST", f"{self.base}/forda/predict", body)
        return self.invoke(self.functions["forda"], {"body": json.dumps(body)})["body"]

    def iris(self, method: str) -> Any:
        if not self.base:
            return self.invoke(self.functions["iris"], SEED_IRIS)["body"]
        if method == "GET":
            query = urllib.parse.urlencode({k: str(v) for k, v in SEED_IRIS.items()})
            return _http("GET", f"{self.base}/iris/predict?{query}", None)
        return _http("POST", f"{self.base}/iris/predict", SEED_IRIS)


def _http(method: str, url: str, body: Any) -> Any:
    data = None if body is None else json.dumps(body).encode()
    headers = {"content-type": "application/json"}
    request = urllib.request.Request(url, data=data, method=method, headers=headers)  # noqa: S310 - the stack's URL
    with urllib.request.urlopen(request, timeout=TIMEOUT_S) as response:  # noqa: S310
        return json.loads(response.read())


def run(transport: Transport) -> list[Exchange]:
    references = reference_series()
    exchanges = []
    for i, ref in enumerate(references):
        answer = transport.forda([ref["series"]])
        exchanges.append(
            Exchange(
                "FordA", f"reference series {i} (true label {ref['label']})", answer["result"]["Class"], ref["class"]
            )
        )
    answers = transport.forda([ref["series"] for ref in references])
    classes = [a["result"]["Class"] for a in answers]
    exchanges.append(
        Exchange("FordA", f"{len(references)} series in one request", classes, [r["class"] for r in references])
    )
    for method in ("POST", "GET"):
        exchanges.append(
            Exchange("scikit-learn", f"{method} {json.dumps(SEED_IRIS)}", transport.iris(method), "virginica")
        )
    return exchanges
