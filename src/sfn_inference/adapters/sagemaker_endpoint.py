"""A SageMaker endpoint through boto3's ``sagemaker-runtime`` (the SDK is far too big for a Lambda).

It speaks the built-in image-classification algorithm's contract, an image body in
and a JSON list of probabilities out, so any such endpoint, ours or AWS's, fits.

A hung endpoint must surface as :class:`EndpointError` inside classify's Lambda
timeout (60 s, ``infra/template.yaml``), not as ``Sandbox.Timedout``: SageMaker itself
waits up to 60 s for a container, so the client's own timeouts are what bound a call.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from typing import Any

from sfn_inference.adapters.aws_errors import endpoint_error, is_unreachable
from sfn_inference.core.errors import EndpointError, PayloadTooLargeError, PredictionError, SfnInferenceError
from sfn_inference.core.ports import ItemResult
from sfn_inference.core.predictions import as_probabilities
from sfn_inference.core.wire import EncodedImage

#: InvokeEndpoint's request payload limit for real-time endpoints (SageMaker refuses more).
MAX_PAYLOAD_BYTES = 6 * 1024 * 1024
#: A TCP connection to SageMaker's runtime is up in milliseconds.
CONNECT_TIMEOUT_S = 2.0
#: The digits model answers in milliseconds; 10 s is generous and leaves room for a retry.
READ_TIMEOUT_S = 10.0
#: One retry (botocore's standard mode: throttling, 5xx, connection errors and timeouts).
MAX_ATTEMPTS = 2
#: Standard mode's backoff before a retry is at most this long (``random() * 2 ** attempt``).
MAX_BACKOFF_S = 2.0
#: The longest one image can take before the client gives up on it.
WORST_CASE_PER_IMAGE_S = MAX_ATTEMPTS * (CONNECT_TIMEOUT_S + READ_TIMEOUT_S) + MAX_BACKOFF_S
#: A batch starts no image that could still be running after this long: classify's timeout is 60 s.
BATCH_BUDGET_S = 45.0


def endpoint_client() -> Any:
    """A ``sagemaker-runtime`` client whose timeouts fit inside classify's Lambda timeout."""
    import boto3  # noqa: PLC0415 - kept off the cold-start path of the LiteRT backend
    from botocore.config import Config  # noqa: PLC0415

    config = Config(
        connect_timeout=CONNECT_TIMEOUT_S,
        read_timeout=READ_TIMEOUT_S,
        retries={"mode": "standard", "total_max_attempts": MAX_ATTEMPTS},
    )
    return boto3.client("sagemaker-runtime", config=config)


class _EndpointDown(Exception):
    """The request never got an answer (no connection, or a timeout): the next ones would not either."""

    def __init__(self, error: EndpointError) -> None:
        self.error = error


class SageMakerPredictor:
    """One InvokeEndpoint request per image; a rejected image is that image's own error.

    When the endpoint cannot be reached or does not answer in time, the rest of the batch is
    not sent (it would only wait the same timeouts out): each remaining image gets an
    EndpointError that says why. Nor does a batch start an image that could outlast
    classify's timeout.
    """

    def __init__(
        self,
        endpoint_name: str,
        labels: list[str],
        client: Any = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.endpoint_name = endpoint_name
        self.labels = labels
        self._client = client
        self._clock = clock

    @property
    def client(self) -> Any:
        if self._client is None:
            self._client = endpoint_client()
        return self._client

    def predict(self, images: Sequence[EncodedImage]) -> list[ItemResult]:
        results: list[ItemResult] = []
        started = self._clock()
        skipped: EndpointError | None = None
        for image in images:
            elapsed = self._clock() - started
            if skipped is None and results and elapsed + WORST_CASE_PER_IMAGE_S > BATCH_BUDGET_S:
                skipped = EndpointError(
                    f"{self.endpoint_name}: not sent: this invocation had already waited {elapsed:.0f} s for the "
                    f"endpoint, and one more image could outlast classify's timeout"
                )
            if skipped is not None:
                results.append(skipped)
                continue
            try:
                results.append(self._invoke(image))
            except _EndpointDown as down:
                results.append(down.error)
                skipped = EndpointError(f"{self.endpoint_name}: not sent after an earlier image got: {down.error}")
            except SfnInferenceError as exc:
                results.append(exc)
        return results

    def _invoke(self, image: EncodedImage) -> list[float]:
        if len(image.data) > MAX_PAYLOAD_BYTES:
            raise PayloadTooLargeError(
                f"the image is {len(image.data):,} bytes; a SageMaker endpoint accepts at most "
                f"{MAX_PAYLOAD_BYTES:,} bytes (6 MB) per request: send a smaller image or use the litert backend"
            )
        try:
            response = self.client.invoke_endpoint(
                EndpointName=self.endpoint_name,
                ContentType=image.content_type,
                Accept="application/json",
                Body=image.data,
            )
        except Exception as exc:
            if is_unreachable(exc):
                raise _EndpointDown(
                    EndpointError(
                        f"{self.endpoint_name}: no answer after {MAX_ATTEMPTS} attempt(s) "
                        f"(connect timeout {CONNECT_TIMEOUT_S:g} s, read timeout {READ_TIMEOUT_S:g} s): {exc}"
                    )
                ) from None
            raise endpoint_error(exc, self.endpoint_name) from None
        body = response["Body"].read()
        try:
            values = json.loads(body)
        except (json.JSONDecodeError, UnicodeDecodeError):
            raise PredictionError(f"{self.endpoint_name} returned non-JSON: {body[:80]!r}") from None
        if not isinstance(values, list) or not all(isinstance(v, int | float) for v in values):
            raise PredictionError(f"{self.endpoint_name} returned {type(values).__name__}, not a list of numbers")
        return as_probabilities(values, len(self.labels))
