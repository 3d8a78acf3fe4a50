"""Tracing: Powertools' Tracer with label and error annotations, and off the cold path when tracing is off."""

from __future__ import annotations

import subprocess
import sys
from typing import Any

import pytest

from sfn_inference import observability
from sfn_inference.adapters.memory import InMemoryObjectStore
from sfn_inference.core.errors import NotAnImageError
from sfn_inference.core.messages import encode_inline
from support import BUNDLE_DIR, ROOT, load_handler


class FakeTracer:
    def __init__(self) -> None:
        self.annotations: list[tuple[str, str]] = []

    def put_annotation(self, key: str, value: str) -> None:
        self.annotations.append((key, value))

    def capture_lambda_handler(self, handler: Any) -> Any:
        return handler


@pytest.fixture
def fake_tracer(monkeypatch) -> FakeTracer:
    fake = FakeTracer()
    monkeypatch.setattr(observability, "tracer", lambda: fake)
    return fake


def test_the_label_and_the_error_name_are_annotations(fake_tracer, monkeypatch, reference_pngs, context) -> None:
    monkeypatch.setenv("MODEL_DIR", str(BUNDLE_DIR))
    classify = load_handler("classify", store=InMemoryObjectStore())
    event = {"s3_bucket": "b", "s3_key": "k.png", "content_type": "image/png"}
    classify.lambda_handler({**event, "image_data": encode_inline(reference_pngs["3_00023.png"])}, context)
    with pytest.raises(NotAnImageError):
        classify.lambda_handler({**event, "image_data": encode_inline(b"plain text")}, context)
    assert fake_tracer.annotations == [("label", "3"), ("error", "NotAnImageError")]


def test_tracing_is_off_outside_lambda_and_when_disabled(monkeypatch) -> None:
    observability.tracer.cache_clear()
    monkeypatch.delenv("AWS_LAMBDA_FUNCTION_NAME", raising=False)
    assert observability.tracer() is None
    observability.tracer.cache_clear()
    monkeypatch.setenv("AWS_LAMBDA_FUNCTION_NAME", "classify")
    monkeypatch.setenv("POWERTOOLS_TRACE_DISABLED", "true")
    assert observability.tracer() is None
    observability.tracer.cache_clear()

    def handler(event: Any, context: Any) -> Any:
        return event

    assert observability.traced(handler) is handler


def test_classify_does_not_import_the_xray_sdk_when_tracing_is_off() -> None:
    code = (
        "import sys\nfrom support import load_handler\nload_handler('classify')\nprint('aws_xray_sdk' in sys.modules)\n"
    )
    env = {"MODEL_DIR": str(BUNDLE_DIR), "AWS_LAMBDA_FUNCTION_NAME": "classify", "POWERTOOLS_TRACE_DISABLED": "true",
           "POWERTOOLS_METRICS_NAMESPACE": "SfnInference", "PATH": ""}  # fmt: skip
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60,
                         cwd=ROOT / "tests", env=env, check=False)  # fmt: skip
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip().endswith("False")
