"""Issue 15: the HTTP functions' cold start stays near the bare script's, so their INIT (the handler
module imported as Lambda imports it) loads neither pydantic nor Powertools nor boto3: their log
lines, metrics and routing are the project's own stdlib code (adapters/lambda_log.py, adapters/emf.py,
core/gateway.py)."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from support import ROOT

HEAVY = ("pydantic", "aws_lambda_powertools", "boto3", "botocore")


@pytest.mark.parametrize("function", ["digits", "fashion", "forda", "iris"])
def test_the_http_function_starts_without_pydantic_or_powertools(function: str) -> None:
    code = (  # the handler module imported as Lambda imports it, nothing else first
        "import sys\n"
        f"sys.path[:0] = [{str(ROOT / 'functions' / function)!r}, {str(ROOT / 'src')!r}]\n"
        "import app\n"
        "assert app.deps is not None\n"
        f"print(sorted(m for m in {HEAVY!r} if m in sys.modules))\n"
    )
    env = {
        "CAPTURE_DESTINATION_S3_URI": "s3://capture-bucket/dc",
        "CAPTURE_ENDPOINT_NAME": f"test-{function}",
        "MODEL_DIR": str(ROOT / "models" / function),
        "PATH": os.environ.get("PATH", ""),
        "POWERTOOLS_METRICS_NAMESPACE": "SfnInference",
        "POWERTOOLS_SERVICE_NAME": "sfn-inference",
        "POWERTOOLS_TRACE_DISABLED": "true",
    }
    out = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT / "tests",
        env=env,
        check=False,
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip().splitlines()[-1] == "[]"
