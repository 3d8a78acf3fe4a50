"""Issue 15: the HTTP functions' cold start stays near the bare script's, so their INIT (the handler
module imported as Lambda imports it) loads neither pydantic nor Powertools nor boto3: their log
lines, metrics and routing are the project's own stdlib code (adapters/lambda_log.py, adapters/emf.py,
core/gateway.py)."""

from __future__ import annotations

import pytest

from support import ROOT, init_imports

HEAVY = ("pydantic", "aws_lambda_powertools", "boto3", "botocore")


@pytest.mark.parametrize("function", ["digits", "fashion", "forda", "iris"])
def test_the_http_function_starts_without_pydantic_or_powertools(function: str) -> None:
    env = {
        "CAPTURE_DESTINATION_S3_URI": "s3://capture-bucket/dc",
        "CAPTURE_ENDPOINT_NAME": f"test-{function}",
        "MODEL_DIR": str(ROOT / "models" / function),
        "POWERTOOLS_SERVICE_NAME": "sfn-inference",
        "POWERTOOLS_TRACE_DISABLED": "true",
    }
    assert init_imports(function, env, HEAVY) == []
