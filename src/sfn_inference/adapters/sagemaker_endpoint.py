"""A SageMaker endpoint through boto3's ``sagemaker-runtime`` (the SDK is far too big for a Lambda).

It speaks the built-in image-classification algorithm's contract, an image body in
and a JSON list of probabilities out, so any such endpoint, ours or AWS's, fits.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from sfn_inference.adapters.aws_errors import endpoint_error
from sfn_inference.adapters.s3 import boto3_client
from sfn_inference.core.errors import PredictionError, SfnInferenceError
from sfn_inference.core.messages import EncodedImage
from sfn_inference.core.ports import ItemResult
from sfn_inference.core.predictions import as_probabilities


class SageMakerPredictor:
    """One InvokeEndpoint request per image; a rejected image is that image's own error."""

    def __init__(self, endpoint_name: str, labels: list[str], client: Any = None) -> None:
        self.endpoint_name = endpoint_name
        self.labels = labels
        self._client = client

    @property
    def client(self) -> Any:
        if self._client is None:
            self._client = boto3_client("sagemaker-runtime")
        return self._client

    def predict(self, images: Sequence[EncodedImage]) -> list[ItemResult]:
        results: list[ItemResult] = []
        for image in images:
            try:
                results.append(self._invoke(image))
            except SfnInferenceError as exc:
                results.append(exc)
        return results

    def _invoke(self, image: EncodedImage) -> list[float]:
        try:
            response = self.client.invoke_endpoint(
                EndpointName=self.endpoint_name,
                ContentType=image.content_type,
                Accept="application/json",
                Body=image.data,
            )
        except Exception as exc:
            raise endpoint_error(exc, self.endpoint_name) from None
        body = response["Body"].read()
        try:
            values = json.loads(body)
        except (json.JSONDecodeError, UnicodeDecodeError):
            raise PredictionError(f"{self.endpoint_name} returned non-JSON: {body[:80]!r}") from None
        if not isinstance(values, list) or not all(isinstance(v, int | float) for v in values):
            raise PredictionError(f"{self.endpoint_name} returned {type(values).__name__}, not a list of numbers")
        return as_probabilities(values, len(self.labels))
