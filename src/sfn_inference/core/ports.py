"""The core's ports: where objects come from, what turns images (or any tensor) into probabilities,
and where an answered inference is recorded.

Adapters implement them (``sfn_inference.adapters``); unit tests use the in-memory
fakes in ``sfn_inference.adapters.memory``. Nothing here does I/O.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

import numpy as np

from sfn_inference.core.errors import SfnInferenceError
from sfn_inference.core.wire import EncodedImage


@dataclass(frozen=True)
class ObjectInfo:
    size: int
    etag: str | None
    content_type: str | None


@dataclass(frozen=True)
class ListedKey:
    key: str
    last_modified: datetime  # timezone-aware, as S3 reports it


class ObjectStore(Protocol):
    def head(self, bucket: str, key: str) -> ObjectInfo: ...

    def list_keys(self, bucket: str, prefix: str) -> list[ListedKey]:
        """Every key under ``prefix``, however many pages the listing takes."""
        ...

    def get(self, bucket: str, key: str, first_bytes: int | None = None) -> bytes: ...

    def put(self, bucket: str, key: str, body: bytes, content_type: str) -> None: ...


#: One image's answer: its probabilities, or the named error that image raised.
ItemResult = list[float] | SfnInferenceError


class Predictor(Protocol):
    """Images in, one result per image out; one bad image is that image's error, not the batch's."""

    labels: list[str]

    def predict(self, images: Sequence[EncodedImage]) -> list[ItemResult]: ...


class TensorModel(Protocol):
    """A loaded model: an (N, ...) float32 tensor in, an (N, labels) array of probabilities out."""

    def run(self, batch: np.ndarray) -> np.ndarray: ...


class InferenceRecorder(Protocol):
    """Records one answered inference (the data capture); never raises."""

    def record(self, request: bytes, probabilities: Sequence[float]) -> None: ...
