"""Named errors: the exception class name is the contract with the ASL's Retry and Catch.

Lambda reports an unhandled exception as ``errorType`` = the class name, and Step
Functions matches Catch ``ErrorEquals`` on that string. Every error the pipeline
raises on purpose is a subclass of :class:`SfnInferenceError`, so nothing reaches
a state machine as a bare ``KeyError`` or ``TypeError``.
"""

from __future__ import annotations

from typing import Any, Protocol


class _HasErrors(Protocol):
    def errors(self) -> Any: ...


def summarise_validation(exc: _HasErrors, limit: int = 5) -> str:
    """One line naming each bad field of a pydantic error, without its doc URLs."""
    parts = [f"{'.'.join(str(p) for p in e['loc']) or 'event'}: {e['msg']}" for e in exc.errors()[:limit]]
    return "; ".join(parts)


class SfnInferenceError(Exception):
    """Base class of every error this project raises on purpose."""


class InvalidEventError(SfnInferenceError):
    """The event is missing a field, or has a shape no handler accepts."""


class ConfigError(SfnInferenceError):
    """A function's configuration (environment) is missing or invalid."""


class ObjectNotFoundError(SfnInferenceError):
    """The S3 object named by the event does not exist."""


class EmptyObjectError(SfnInferenceError):
    """The S3 object exists but has no bytes."""


class ObjectTooLargeError(SfnInferenceError):
    """The object is larger than any image this pipeline will read."""


class NotAnImageError(SfnInferenceError):
    """The bytes are not a PNG or JPEG image."""


class CorruptImageError(SfnInferenceError):
    """The bytes start like an image but cannot be decoded (truncated, damaged)."""


class DecompressionBombError(SfnInferenceError):
    """The image declares more pixels than the pipeline will decode."""


class IncompatibleImageError(SfnInferenceError):
    """The image decodes, but the model cannot take its shape or mode."""


class ModelBundleError(SfnInferenceError):
    """The model bundle is missing a file or its metadata is invalid."""


class PredictionError(SfnInferenceError):
    """The predictor returned something that is not a probability vector."""


class EndpointError(SfnInferenceError):
    """The SageMaker endpoint rejected the request, could not be reached, or did not answer in time."""


class PayloadTooLargeError(SfnInferenceError):
    """The image is over the 6 MB a SageMaker endpoint accepts in one InvokeEndpoint request."""


class LowConfidenceError(SfnInferenceError):
    """The top class's confidence is below the threshold."""

    def __init__(self, label: str, confidence: float, threshold: float) -> None:
        self.label = label
        self.confidence = confidence
        self.threshold = threshold
        super().__init__(f"confidence {confidence:.4f} for label {label!r} is below the threshold {threshold:.4f}")


class MalformedManifestError(SfnInferenceError):
    """The Distributed Map's ResultWriter manifest or a result file it lists is not what it writes."""


class BatchToleranceExceededError(SfnInferenceError):
    """More child workflows of a batch failed as a whole than ToleratedFailurePercentage allows."""


class BatchIncompleteError(SfnInferenceError):
    """A key under the batch's prefix, there before the batch started, has no row: items were lost."""


# --- the HTTP routes -----------------------------------------------------------------------------------
# Their status codes are in sfn_inference.core.http, the one place errors become HTTP answers.


class UnsupportedMediaTypeError(SfnInferenceError):
    """The request's Content-Type is not one the route accepts."""


class RequestTooLargeError(SfnInferenceError):
    """The request body is larger than the route accepts."""


class UrlRefusedError(SfnInferenceError):
    """The URL may not be fetched: its scheme, its credentials, or the address its host resolves to."""


class UrlFetchError(SfnInferenceError):
    """The URL was allowed but could not be fetched: DNS, connection, HTTP status or redirects."""


class UrlTimeoutError(UrlFetchError):
    """The server behind the URL did not connect or answer within the fetch's time limits."""


class UrlTooLargeError(UrlFetchError):
    """The object behind the URL is larger than the fetch's byte cap."""


# --- requests to the series and tabular models (the HTTP front door and direct invokes) -----------
# A caller's own mistakes: each message says what to send instead. RequestError and its
# subclasses are 400 (the request cannot be read as the endpoint's request); InputError and
# its subclasses are 422 (the request reads, but its values are not what the model takes).


class RequestError(SfnInferenceError):
    """The request cannot be read as this endpoint's request."""


class BodyNotJsonError(RequestError):
    """The request body is missing or is not JSON."""


class InvalidRequestError(RequestError):
    """The body is JSON, but not of the shape this endpoint takes (e.g. no ``items`` list)."""


class InputError(SfnInferenceError):
    """The request reads, but its values are not what the model takes."""


class EmptyBatchError(InputError):
    """The request holds no series (N = 0)."""


class BatchTooLargeError(InputError):
    """The request holds more series than the function's configured cap."""


class RaggedBatchError(InputError):
    """The series of one request have different lengths."""


class SeriesLengthError(InputError):
    """The series have a length other than the model's."""


class NonNumericValueError(InputError):
    """A value is not a number (a string that does not parse as one, a boolean, null, a list...)."""


class NonFiniteValueError(InputError):
    """A value is NaN or infinite, or too large for the model's float32 input."""


class MissingFeatureError(InputError):
    """A feature the model needs is absent from the record."""


class UnknownFeatureError(InputError):
    """The record has a feature the model does not take (a typo, most often)."""
