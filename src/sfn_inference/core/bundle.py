"""A model bundle: the .tflite file, its labels, and metadata that says how to feed it.

Layout of ``models/<name>/``::

    model.tflite        the LiteRT flatbuffer
    labels.txt          one label per line, in output order
    metadata.json       input shape, dtype, preprocessing, data set, held-out accuracy
    reference/          a fixed set of PNGs, with the training run's predictions for them
"""

from __future__ import annotations

import json
import os
from functools import cached_property
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from sfn_inference.core.errors import ModelBundleError, summarise_validation

#: The committed demo bundle, relative to the project root (or the Lambda task root).
DEFAULT_BUNDLE = Path("models") / "digits"


class Preprocessing(BaseModel):
    """``tensor = resize(image, (width, height)).convert(color_mode) * scale - offset``."""

    model_config = ConfigDict(frozen=True)

    width: int = Field(gt=0)
    height: int = Field(gt=0)
    color_mode: Literal["RGB", "L"] = "RGB"
    scale: float = 1.0 / 255.0
    offset: float = 0.0
    min_side: int = Field(default=8, gt=0)

    @property
    def channels(self) -> int:
        return 3 if self.color_mode == "RGB" else 1


class Dataset(BaseModel):
    name: str
    source: str
    train_size: int
    test_size: int
    label_distribution: dict[str, float] = Field(default_factory=dict)


class BundleMetadata(BaseModel):
    name: str
    framework: str
    input_shape: list[int] = Field(min_length=4, max_length=4)
    input_dtype: Literal["float32"] = "float32"
    output: Literal["probabilities"] = "probabilities"
    preprocessing: Preprocessing
    dataset: Dataset
    test_accuracy: float = Field(ge=0.0, le=1.0)

    @model_validator(mode="after")
    def _shape_matches_preprocessing(self) -> BundleMetadata:
        _, h, w, c = self.input_shape
        p = self.preprocessing
        if (h, w, c) != (p.height, p.width, p.channels):
            raise ValueError(f"input_shape {self.input_shape} disagrees with preprocessing {p}")
        return self


class ModelBundle:
    def __init__(self, path: Path) -> None:
        self.path = path
        self.model_path = path / "model.tflite"
        if not self.model_path.is_file():
            raise ModelBundleError(f"{self.model_path} is missing")
        try:
            self.metadata = BundleMetadata.model_validate_json((path / "metadata.json").read_text())
            self.labels = [line.strip() for line in (path / "labels.txt").read_text().splitlines() if line.strip()]
        except FileNotFoundError as exc:
            raise ModelBundleError(f"bundle {path} is missing {Path(exc.filename).name}") from None
        except ValidationError as exc:
            raise ModelBundleError(f"{path}/metadata.json: {summarise_validation(exc)}") from None
        if not self.labels:
            raise ModelBundleError(f"{path}/labels.txt has no labels")

    @property
    def preprocessing(self) -> Preprocessing:
        return self.metadata.preprocessing

    @cached_property
    def reference_predictions(self) -> dict[str, list[float]]:
        """The training run's probabilities for each PNG in ``reference/``."""
        data: dict[str, list[float]] = json.loads((self.path / "reference" / "predictions.json").read_text())
        return data


def resolve_bundle_dir(configured: str | None = None) -> Path:
    """A configured bundle directory, relative paths taken from the Lambda task root."""
    path = Path(configured) if configured else DEFAULT_BUNDLE
    if not path.is_absolute():
        path = Path(os.environ.get("LAMBDA_TASK_ROOT", ".")) / path
    return path
