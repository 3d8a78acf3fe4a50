"""The FordA and Iris routes on the template's HttpApi, on the running local cloud, with real
HTTP clients (requests, and curl as the tutorials' readers would type it).

The tutorials' own requests get their recorded answers; every bad input gets its status and
its error's name; nothing is ever a 502.
"""

from __future__ import annotations

import json
import math
import shutil
import subprocess
from typing import Any

import pytest
import requests

from support import ROOT

REFERENCE: list[dict[str, Any]] = json.loads((ROOT / "models" / "forda" / "reference" / "series.json").read_text())
SEED_IRIS = {"sl": 6.9, "sw": 3.1, "pl": 5.1, "pw": 2.3}
QUERY = {k: str(v) for k, v in SEED_IRIS.items()}
TIMEOUT_S = 60


@pytest.fixture(scope="module")
def api(cloud, stack) -> str:
    url: str = cloud.api_url(stack["resources"]["HttpApi"]["ref"], "Prod")
    return url


def as_seed_sends(series: list[list[float]]) -> dict[str, Any]:
    return {"items": [[[v] for v in s] for s in series]}


def test_forda_answers_each_reference_series_with_its_recorded_class(api) -> None:
    for ref in REFERENCE:
        response = requests.post(f"{api}/forda/predict", json=as_seed_sends([ref["series"]]), timeout=TIMEOUT_S)
        assert response.status_code == 200, response.text
        assert response.headers["content-type"] == "application/json"
        result = response.json()["result"]
        assert result["Class"] == ref["class"]
        assert result["Probabilities"] == pytest.approx(ref["probabilities"], abs=1e-5)


def test_forda_answers_eight_series_in_one_request_on_both_paths(api) -> None:
    body = as_seed_sends([ref["series"] for ref in REFERENCE])
    for path in ("/forda/predict", "/v1/predict"):  # the tutorial's own path too
        response = requests.post(f"{api}{path}", json=body, timeout=TIMEOUT_S)
        assert response.status_code == 200, response.text
        assert [r["result"]["Class"] for r in response.json()] == [ref["class"] for ref in REFERENCE]


def test_iris_answers_the_tutorials_sample_virginica_by_post_and_get(api) -> None:
    posted = requests.post(f"{api}/iris/predict", json=SEED_IRIS, timeout=TIMEOUT_S)
    got = requests.get(f"{api}/iris/predict", params=QUERY, timeout=TIMEOUT_S)
    for response in (posted, got):
        assert response.status_code == 200, response.text
        assert response.headers["content-type"] == "application/json"
        assert response.json() == "virginica"


@pytest.mark.skipif(shutil.which("curl") is None, reason="curl is not installed")
def test_curl_as_the_readme_types_it(api) -> None:
    def curl(*args: str) -> str:
        return subprocess.run(["curl", "-s", *args], capture_output=True, text=True, check=True, timeout=60).stdout

    assert curl(f"{api}/iris/predict?sl=6.9&sw=3.1&pl=5.1&pw=2.3") == '"virginica"'
    # curl -d sends application/x-www-form-urlencoded: the body is JSON all the same.
    assert curl("-X", "POST", "-d", json.dumps(SEED_IRIS), f"{api}/iris/predict") == '"virginica"'


GOOD = REFERENCE[0]["series"]
FORDA_BAD: list[tuple[str, Any, int, str]] = [
    ("not JSON", "{items: [[1, 2]]", 400, "BodyNotJsonError"),
    ("no body", None, 400, "BodyNotJsonError"),
    ("no items", {"item": [GOOD]}, 400, "InvalidRequestError"),
    ("one bare series", {"items": GOOD}, 400, "InvalidRequestError"),
    ("N = 0", {"items": []}, 422, "EmptyBatchError"),
    ("N over the cap", {"items": [GOOD] * 257}, 422, "BatchTooLargeError"),
    ("ragged", {"items": [GOOD, GOOD[:499]]}, 422, "RaggedBatchError"),
    ("wrong length", {"items": [GOOD[:499]]}, 422, "SeriesLengthError"),
    ("non-numeric", {"items": [[*GOOD[:499], "x"]]}, 422, "NonNumericValueError"),
    ("NaN", json.dumps({"items": [[*GOOD[:499], math.nan]]}), 422, "NonFiniteValueError"),
    ("Infinity", '{"items": [[' + "1," * 499 + "-Infinity]]}", 422, "NonFiniteValueError"),
]


@pytest.mark.parametrize(("case", "body", "status", "error"), FORDA_BAD, ids=[c[0] for c in FORDA_BAD])
def test_every_bad_forda_request_gets_its_status_and_error_name(api, case, body, status, error) -> None:
    data = body if isinstance(body, str) or body is None else json.dumps(body)
    response = requests.post(f"{api}/forda/predict", data=data, timeout=TIMEOUT_S)
    assert (response.status_code, response.json().get("error")) == (status, error), response.text
    assert response.json()["message"]


IRIS_BAD: list[tuple[str, str, Any, int, str]] = [
    ("not JSON", "POST", "sl=6.9&sw=3.1&pl=5.1&pw=2.3", 400, "BodyNotJsonError"),
    ("a list", "POST", [6.9, 3.1, 5.1, 2.3], 400, "InvalidRequestError"),
    ("missing feature", "POST", {"sl": 6.9, "sw": 3.1, "pl": 5.1}, 422, "MissingFeatureError"),
    ("extra feature", "POST", {**SEED_IRIS, "colour": "blue"}, 422, "UnknownFeatureError"),
    ("not a number", "POST", {**SEED_IRIS, "sl": "abc"}, 422, "NonNumericValueError"),
    ("GET missing feature", "GET", {"sl": "6.9", "sw": "3.1", "pl": "5.1"}, 422, "MissingFeatureError"),
    ("GET not a number", "GET", {**QUERY, "pw": "wide"}, 422, "NonNumericValueError"),
    ("GET no query", "GET", None, 422, "MissingFeatureError"),
]


@pytest.mark.parametrize(("case", "method", "payload", "status", "error"), IRIS_BAD, ids=[c[0] for c in IRIS_BAD])
def test_every_bad_iris_request_gets_its_status_and_error_name(api, case, method, payload, status, error) -> None:
    if method == "GET":
        response = requests.get(f"{api}/iris/predict", params=payload, timeout=TIMEOUT_S)
    else:
        data = payload if isinstance(payload, str) else json.dumps(payload)
        response = requests.post(f"{api}/iris/predict", data=data, timeout=TIMEOUT_S)
    assert (response.status_code, response.json().get("error")) == (status, error), response.text


def test_a_repeated_query_parameter_reaches_iris_joined_by_a_comma_and_is_refused(api) -> None:
    """API Gateway's payload 2.0 joins repeated parameters with commas: sl=6.9,7.0 is not a number."""
    response = requests.get(f"{api}/iris/predict?sl=6.9&sl=7.0&sw=3.1&pl=5.1&pw=2.3", timeout=TIMEOUT_S)
    assert response.status_code == 422
    assert response.json()["message"].startswith('sl is "6.9,7.0"')


def test_a_body_over_the_routes_limit_is_413_not_502(api) -> None:
    huge = '{"items": [[' + ",".join(["1.0"] * 1_200_000) + "]]}"  # about 4.8 MB: over core.http's 4 MiB
    response = requests.post(f"{api}/forda/predict", data=huge, timeout=TIMEOUT_S)
    assert response.status_code == 413, response.text[:300]
    # Whichever refuses it first: the gateway (its own message) or the function (the named error).
    assert response.json().get("error", "RequestTooLargeError") == "RequestTooLargeError"
