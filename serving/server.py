"""SageMaker bring-your-own-container inference server for a model bundle.

Speaks SageMaker hosting's container contract (``GET /ping``, ``POST /invocations``
on port 8080, the model extracted under ``/opt/ml/model``, started with the
argument ``serve``) and the built-in image-classification algorithm's wire format,
so ``SageMakerPredictor`` cannot tell the two apart:

* ``image/png``, ``image/jpeg``, ``application/x-image``: one image in, a JSON list
  of probabilities out;
* ``application/json``: a preprocessed tensor, (H, W, C) -> one list, (N, H, W, C) -> N lists.

Bad input gets a 4xx with ``{"error": "<ErrorName>", "message": "..."}``. On AWS,
SageMaker captures data itself; on the local cloud this server does it, when given
``--data-capture-config`` (or ``CAPTURE_*`` variables, see :mod:`sfn_inference.datacapture.writer`).

    python serving/server.py [serve] [--model-dir /opt/ml/model] [--port 8080]
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import signal
import sys
import threading
import time
from collections.abc import Mapping, Sequence
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import numpy as np

from sfn_inference.adapters.litert import LiteRTModel
from sfn_inference.adapters.sagemaker_endpoint import MAX_PAYLOAD_BYTES
from sfn_inference.core.bundle import ModelBundle
from sfn_inference.core.errors import (
    ConfigError,
    CorruptImageError,
    DecompressionBombError,
    EmptyObjectError,
    IncompatibleImageError,
    ModelBundleError,
    NotAnImageError,
    PayloadTooLargeError,
    PredictionError,
    SfnInferenceError,
)
from sfn_inference.core.imaging import image_to_tensor
from sfn_inference.core.predictions import as_probabilities
from sfn_inference.datacapture.config import CaptureConfig, media_type
from sfn_inference.datacapture.writer import CaptureWriter, open_capture_writer

log = logging.getLogger("sfn_inference.serving")

IMAGE_TYPES = frozenset({"image/png", "image/jpeg", "application/x-image"})
TENSOR_TYPE = "application/json"
ACCEPTED = frozenset({"", "*/*", "application/*", "application/json"})
#: SageMaker real-time inference refuses request payloads above 6 MB before they reach us.
MAX_BODY_BYTES = MAX_PAYLOAD_BYTES
MAX_BATCH = 64
INFERENCE_ID_HEADER = "X-Amzn-SageMaker-Inference-Id"


class UnsupportedContentTypeError(SfnInferenceError):
    """The request's Content-Type is not an image or a JSON tensor."""


class UnsupportedAcceptError(SfnInferenceError):
    """The caller asked for a response type other than JSON."""


class EmptyRequestError(SfnInferenceError):
    """The request has no body."""


class InvalidTensorError(SfnInferenceError):
    """The JSON body is not a finite numeric tensor of a shape the model takes."""


STATUS: dict[type[SfnInferenceError], HTTPStatus] = {
    UnsupportedContentTypeError: HTTPStatus.UNSUPPORTED_MEDIA_TYPE,
    UnsupportedAcceptError: HTTPStatus.NOT_ACCEPTABLE,
    PayloadTooLargeError: HTTPStatus.REQUEST_ENTITY_TOO_LARGE,
    EmptyRequestError: HTTPStatus.BAD_REQUEST,
    EmptyObjectError: HTTPStatus.BAD_REQUEST,
    InvalidTensorError: HTTPStatus.BAD_REQUEST,
    NotAnImageError: HTTPStatus.BAD_REQUEST,
    CorruptImageError: HTTPStatus.BAD_REQUEST,
    DecompressionBombError: HTTPStatus.BAD_REQUEST,
    IncompatibleImageError: HTTPStatus.BAD_REQUEST,
    PredictionError: HTTPStatus.INTERNAL_SERVER_ERROR,
}


class Model:
    """The bundle in one LiteRT interpreter. Decoding runs in parallel; ``invoke`` is serialised,
    because an interpreter is not safe to share between threads."""

    def __init__(self, bundle: ModelBundle, num_threads: int) -> None:
        self.bundle = bundle
        self.model = LiteRTModel(bundle.model_path, num_threads=num_threads)
        _, height, width, channels = bundle.metadata.input_shape
        self.sample_shape = (height, width, channels)
        self._lock = threading.Lock()

    def predict(self, content_type: str, body: bytes) -> list[float] | list[list[float]]:
        media = media_type(content_type)
        if media not in IMAGE_TYPES and media != TENSOR_TYPE:
            supported = ", ".join(sorted(IMAGE_TYPES | {TENSOR_TYPE}))
            raise UnsupportedContentTypeError(f"Content-Type {content_type or '(none)'!r} is not one of {supported}")
        if not body:
            raise EmptyRequestError("the request body is empty")
        if media in IMAGE_TYPES:
            return self._run(image_to_tensor(body, self.bundle.preprocessing)[None])[0]
        batch, single = self._tensor(body)
        results = self._run(batch)
        return results[0] if single else results

    def _tensor(self, body: bytes) -> tuple[np.ndarray, bool]:
        """The JSON body as an (N, H, W, C) batch, and whether it was a single (H, W, C) sample."""
        try:
            array = np.asarray(json.loads(body))
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise InvalidTensorError(f"the body is not JSON: {exc}") from None
        except ValueError:  # numpy refuses ragged nesting
            raise InvalidTensorError("the body is not a rectangular nested list") from None
        if array.dtype.kind not in "iuf":
            raise InvalidTensorError(f"the tensor must hold only numbers, not {array.dtype}")
        expected = f"{self.sample_shape} or (N, {', '.join(map(str, self.sample_shape))}) with 1 <= N <= {MAX_BATCH}"
        single = array.shape == self.sample_shape
        if not single and not (array.ndim == 4 and array.shape[1:] == self.sample_shape):
            raise InvalidTensorError(f"expected a tensor of shape {expected}, got {array.shape}")
        batch = array[None] if single else array
        if not 1 <= batch.shape[0] <= MAX_BATCH:
            raise InvalidTensorError(f"expected a tensor of shape {expected}, got {array.shape}")
        batch = batch.astype(np.float32)
        if not np.isfinite(batch).all():
            raise InvalidTensorError("the tensor holds NaN or infinite values")
        return batch, single

    def _run(self, batch: np.ndarray) -> list[list[float]]:
        with self._lock:
            rows = self.model.run(np.ascontiguousarray(batch, dtype=np.float32)).tolist()
        return [as_probabilities(row, len(self.bundle.labels)) for row in rows]


class InferenceServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, address: tuple[str, int], model: Model, capture: CaptureWriter | None) -> None:
        super().__init__(address, Handler)
        self.model = model
        self.capture = capture


class Handler(BaseHTTPRequestHandler):
    server: InferenceServer
    protocol_version = "HTTP/1.1"  # keep-alive: every response below sets Content-Length

    def do_GET(self) -> None:
        if self.path == "/ping":
            self._send(HTTPStatus.OK, b"", "text/plain")
        else:
            self._error(HTTPStatus.NOT_FOUND, "NotFound", f"no route GET {self.path}")

    def do_POST(self) -> None:
        if self.path != "/invocations":
            self.close_connection = True  # its body is left unread
            self._error(HTTPStatus.NOT_FOUND, "NotFound", f"no route POST {self.path}")
            return
        content_type = self.headers.get("Content-Type", "")
        try:
            body = self._read_body()  # first: an unread body would be taken for the next request
            accept = media_type(self.headers.get("Accept", ""))
            if accept not in ACCEPTED:
                raise UnsupportedAcceptError(f"Accept {accept!r}: this model only returns application/json")
            output = json.dumps(self.server.model.predict(content_type, body)).encode()
        except SfnInferenceError as exc:
            status = STATUS.get(type(exc), HTTPStatus.BAD_REQUEST)
            self._error(status, type(exc).__name__, str(exc))
            return
        except Exception:
            log.exception("invocation failed")
            self._error(HTTPStatus.INTERNAL_SERVER_ERROR, "InternalServerError", "the model server failed; see its log")
            return
        self._send(HTTPStatus.OK, output, "application/json")
        if self.server.capture is not None:
            self.server.capture.capture(
                input_body=body,
                input_content_type=content_type,
                output_body=output,
                output_content_type="application/json",
                inference_id=self.headers.get(INFERENCE_ID_HEADER),
            )

    def _read_body(self) -> bytes:
        length_header = self.headers.get("Content-Length")
        if length_header is None:
            self.close_connection = True  # cannot tell where an unsized body ends
            return b""
        try:
            length = int(length_header)
        except ValueError:
            self.close_connection = True
            raise EmptyRequestError(f"invalid Content-Length {length_header!r}") from None
        if length > MAX_BODY_BYTES:
            self.close_connection = True  # the unread body would be taken for the next request
            raise PayloadTooLargeError(f"the body is {length:,} bytes; the limit is {MAX_BODY_BYTES:,} (6 MB)")
        return self.rfile.read(length) if length > 0 else b""

    def _error(self, status: HTTPStatus, name: str, message: str) -> None:
        log.info("%s %s -> %d %s: %s", self.command, self.path, status, name, message)
        self._send(status, json.dumps({"error": name, "message": message}).encode(), "application/json")

    def _send(self, status: HTTPStatus, body: bytes, content_type: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        # SageMaker pings every few seconds: keep those out of the log.
        if getattr(self, "path", "") != "/ping":
            log.info("%s %s", self.address_string(), format % args)


def parse_args(argv: Sequence[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="serving/server.py", description="SageMaker BYOC inference server.")
    parser.add_argument("--model-dir", type=Path, default=Path("/opt/ml/model"))
    parser.add_argument("--host", default="0.0.0.0", help="0.0.0.0 in a container; 127.0.0.1 locally")
    parser.add_argument("--port", type=int, default=int(os.environ.get("SAGEMAKER_BIND_TO_PORT", "8080")))
    parser.add_argument("--num-threads", type=int, default=int(os.environ.get("LITERT_NUM_THREADS", "1")))
    parser.add_argument(
        "--data-capture-config",
        help="an EndpointConfig's DataCaptureConfig as JSON ('{}' = off); without it, CAPTURE_* variables apply",
    )
    parser.add_argument("--endpoint-name", help="the endpoint capture records under")
    parser.add_argument("--variant-name", help="the production variant capture records under")
    parser.add_argument("--parent-pid", type=int, help="exit when this process does (the local cloud's server)")
    # SageMaker starts the image as `<entrypoint> serve`.
    return parser.parse_args(argv[1:] if argv and argv[0] == "serve" else argv)


def capture_config(args: argparse.Namespace, env: Mapping[str, str]) -> CaptureConfig | None:
    if args.data_capture_config is None:
        names = {"CAPTURE_ENDPOINT_NAME": args.endpoint_name, "CAPTURE_VARIANT": args.variant_name}
        merged = {**env, **{k: v for k, v in names.items() if v}}
        config = CaptureConfig.from_env(merged)
        if config is not None and not merged.get("CAPTURE_ENDPOINT_NAME"):
            # from_env's default names the in-Lambda backend, which this is not.
            raise ConfigError("capture needs --endpoint-name or CAPTURE_ENDPOINT_NAME")
        return config
    try:
        data_capture = json.loads(args.data_capture_config)
    except json.JSONDecodeError as exc:
        raise ConfigError(f"--data-capture-config is not JSON: {exc}") from None
    if not args.endpoint_name:
        raise ConfigError("--data-capture-config needs --endpoint-name")
    return CaptureConfig.from_sagemaker(
        data_capture, endpoint_name=args.endpoint_name, variant_name=args.variant_name or "AllTraffic", env=env
    )


def watch_parent(pid: int, server: InferenceServer) -> None:
    """Stop when the process that started us is gone, so a killed local cloud leaves no orphans."""

    def watch() -> None:
        while os.getppid() == pid:
            time.sleep(1.0)
        log.warning("parent %d exited: shutting down", pid)
        server.shutdown()

    threading.Thread(target=watch, name="parent-watch", daemon=True).start()


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    try:
        model = Model(ModelBundle(args.model_dir), num_threads=args.num_threads)
        config = capture_config(args, os.environ)
    except (ModelBundleError, ConfigError) as exc:
        log.error("cannot start: %s: %s", type(exc).__name__, exc)
        return 2
    capture = open_capture_writer(config, background=True) if config is not None else None
    server = InferenceServer((args.host, args.port), model, capture)

    def stop(signum: int, _frame: Any) -> None:
        # shutdown() waits for serve_forever(), which runs on this (the main) thread.
        threading.Thread(target=server.shutdown, name="shutdown").start()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    if args.parent_pid:
        watch_parent(args.parent_pid, server)
    log.info(
        "serving %s (%s, %d threads) on %s:%d, capture %s",
        args.model_dir,
        model.bundle.metadata.name,
        args.num_threads,
        args.host,
        server.server_address[1],
        f"to {config.data_capture.destination_s3_uri}" if config else "off",
    )
    try:
        server.serve_forever(poll_interval=0.2)
    finally:
        server.server_close()
        if capture is not None:
            capture.close()
            log.info("capture: %s", capture.counters.as_dict())
    return 0


if __name__ == "__main__":
    sys.exit(main())
