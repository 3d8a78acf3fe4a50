"""Warm per-image cost inside one classify execution environment, variants interleaved.

Run with the local cloud's Lambda environment (LAMBDA_TASK_ROOT on PYTHONPATH,
LITERT_NUM_THREADS, CAPTURE_*). Every variant shares the handler's own interpreter,
so the raw ``model.run`` is exactly the model cost inside the handler:

    raw_b1 / raw_bN        model.run on preprocessed tensors (one invoke per call)
    handler_b1             lambda_handler on an inline payload: parse, decode, preprocess, infer, capture
    handler_nocapture_b1   the same with capture off (the same interpreter, no writer)
    handler_bN             lambda_handler on a batch event {"mode": "batch", "bucket", "items": [N payloads]}

Each run times one block per variant (at least --block-s, bounded in calls) and
records seconds per image.
"""

from __future__ import annotations

import argparse
import base64
import dataclasses
import json
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pyspng

from sfn_inference.adapters.litert import LiteRTImagePredictor
from sfn_inference.core.imaging import image_to_tensor
from sfn_inference.datacapture.writer import CaptureWriter, LocalDirectorySink
from sfn_inference.roots.classify import CapturingPredictor, Classify

MAX_CALLS = 100_000


class Context:
    function_name = "sfn-inference-ClassifyFunction"
    function_version = "$LATEST"
    memory_limit_in_mb = 1769
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:sfn-inference-ClassifyFunction"
    aws_request_id = "00000000-0000-0000-0000-000000000002"
    log_group_name = "/sfn-inference/sfn-inference/classify"  # the LoggingConfig group
    log_stream_name = "bench"

    def get_remaining_time_in_millis(self) -> int:
        return 60_000


def block(call: Callable[[int], object], images_per_call: int, min_s: float) -> float:
    """Seconds per image over one timed block; the untimed first call absorbs a batch-size change."""
    call(0)
    calls = 0
    start = time.perf_counter()
    while True:
        call(calls)
        calls += 1
        elapsed = time.perf_counter() - start
        if elapsed >= min_s or calls >= MAX_CALLS:
            return elapsed / (calls * images_per_call)


def payload(path: Path) -> dict[str, Any]:
    data = path.read_bytes()
    return {
        "s3_bucket": "sfn-inference-imagebucket",
        "s3_key": f"test/{path.name}",
        "content_type": "image/png",
        "transport": "inline",
        "image_data": base64.b64encode(data).decode("ascii"),
        "size_bytes": len(data),
    }


def batch_support(handler: Any, event: dict[str, Any], context: Context) -> str | None:
    """None when the handler answers a batch event with one labelled item per input; else why not."""
    try:
        answer = handler(event, context)
    except Exception as exc:
        return f"{type(exc).__name__}: {str(exc)[:160]}"
    items = answer.get("items") if isinstance(answer, dict) else None
    if not isinstance(items, list) or len(items) != len(event["items"]) or any("label" not in i for i in items):
        return "the answer to a batch event has no labelled item per input"
    return None


def file_capture(deps: Classify, directory: Path) -> Classify:
    """The other mechanism: the same records buffered and written as one file per invocation."""
    assert deps.capture is not None
    writer = CaptureWriter(deps.capture.config, LocalDirectorySink(directory))

    class FlushingPredictor(CapturingPredictor):
        def predict(self, images: Any) -> Any:
            try:
                return super().predict(images)
            finally:
                self.writer.flush()  # a file per invocation: durable when it returns

    return dataclasses.replace(deps, predictor=FlushingPredictor(deps.timer, writer), capture=writer)


def jpeg_invocations(handler: Any, context: Context, jpeg: Path) -> dict[str, float]:
    """The first JPEG this environment classifies imports Pillow (the fast path is PNG only): time it,
    and a second one."""
    event = {**payload(jpeg), "content_type": "image/jpeg"}
    out = {}
    for key in ("first_s", "second_s"):
        started = time.perf_counter()
        handler(event, context)
        out[key] = time.perf_counter() - started
    return out


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--images", type=Path, nargs="+", required=True)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--block-s", type=float, default=0.25)
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--raw-only", action="store_true")
    parser.add_argument("--jpeg", type=Path, help="a JPEG: the first one this environment sees imports Pillow")
    args = parser.parse_args()

    name = os.environ.get("_HANDLER", "app.lambda_handler").rpartition(".")[0]
    __import__(name)
    pillow_at_start = "PIL.Image" in sys.modules
    module: Any = sys.modules[name]
    handler = module.lambda_handler
    deps: Classify = module.deps
    inner = deps.timer.inner
    if not isinstance(inner, LiteRTImagePredictor):
        raise SystemExit(f"expected the LiteRT backend, got {type(inner).__name__}")
    context = Context()

    events = [payload(p) for p in args.images]
    n = len(events)
    singles = [image_to_tensor(p.read_bytes(), inner.bundle.preprocessing)[None] for p in args.images]
    batch = np.concatenate([singles[i % n] for i in range(args.batch)])
    batch_events = [events[i % n] for i in range(args.batch)]
    batch_event = {"mode": "batch", "bucket": "sfn-inference-imagebucket", "items": batch_events}

    spec = inner.bundle.preprocessing
    scale, offset = np.float32(spec.scale), np.float32(spec.offset)

    def floor(encoded: list[str]) -> object:
        """The floor: base64, libspng, preprocess, one invoke; nothing else (no checks, no JSON, no capture)."""
        tensor = np.empty((len(encoded), spec.height, spec.width, spec.channels), np.float32)
        for slot, text in zip(tensor, encoded, strict=True):
            np.multiply(pyspng.load(base64.b64decode(text)), scale, out=slot, dtype=np.float32)
            np.subtract(slot, offset, out=slot)
        return inner.model.run(tensor)

    texts = [e["image_data"] for e in events]
    batch_texts = [e["image_data"] for e in batch_events]
    variants: dict[str, tuple[Callable[[int], object], int]] = {
        "raw_b1": (lambda i: inner.model.run(singles[i % n]), 1),
        f"raw_b{args.batch}": (lambda i: inner.model.run(batch), args.batch),
        "bare_b1": (lambda i: floor([texts[i % n]]), 1),
        f"bare_b{args.batch}": (lambda i: floor(batch_texts), args.batch),
    }
    pending: dict[str, str] = {}
    first_jpeg: dict[str, float] = {}
    if not args.raw_only:
        first_jpeg = jpeg_invocations(handler, context, args.jpeg) if args.jpeg else {}
        bare = dataclasses.replace(deps, predictor=deps.timer, capture=None)  # the same interpreter, no writer

        def without_capture(i: int) -> object:
            module.deps = bare  # the handler reads the module global on each call
            try:
                return handler(events[i % n], context)
            finally:
                module.deps = deps

        filed = file_capture(deps, args.out.parent / "file-capture")

        def with_file_capture(event: dict[str, Any]) -> object:
            module.deps = filed
            try:
                return handler(event, context)
            finally:
                module.deps = deps

        def without_metrics(event: dict[str, Any]) -> object:
            os.environ["POWERTOOLS_METRICS_DISABLED"] = "true"  # read at each flush (adapters/emf.py)
            try:
                return handler(event, context)
            finally:
                del os.environ["POWERTOOLS_METRICS_DISABLED"]

        bn = f"b{args.batch}"
        variants["handler_b1"] = (lambda i: handler(events[i % n], context), 1)
        variants["handler_nocapture_b1"] = (without_capture, 1)
        variants["handler_nometrics_b1"] = (lambda i: without_metrics(events[i % n]), 1)
        variants["handler_filecapture_b1"] = (lambda i: with_file_capture(events[i % n]), 1)
        why = batch_support(handler, batch_event, context)
        if why is None:
            variants[f"handler_{bn}"] = (lambda i: handler(batch_event, context), args.batch)
            variants[f"handler_nometrics_{bn}"] = (lambda i: without_metrics(batch_event), args.batch)
            variants[f"handler_filecapture_{bn}"] = (lambda i: with_file_capture(batch_event), args.batch)
        else:
            pending[f"handler_{bn}"] = f"the handler does not take a batch event ({why})"

    samples: dict[str, list[float]] = {k: [] for k in variants}
    for _ in range(args.runs):
        for key, (call, per_call) in variants.items():
            samples[key].append(block(call, per_call, args.block_s))

    result = {
        "threads": int(os.environ.get("LITERT_NUM_THREADS", "1")),
        "batch": args.batch,
        "samples_s_per_image": samples,
        "pending": pending,
        "first_jpeg": first_jpeg,
        "pillow_imported_at_start": pillow_at_start,
        "capture": {
            "sink": os.environ.get("CAPTURE_DESTINATION_S3_URI", ""),
            "counters": deps.capture.counters.as_dict() if deps.capture else None,
        },
    }
    args.out.write_text(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
