"""A model bundle: the model file, its labels, and metadata that says how to feed it.

Layout of ``models/<name>/``::

    model.tflite | model.onnx   the model (``model_file``), run by ``runtime``
    labels.txt                  one label per line, in output order
    metadata.json               kind, runtime, input schema, data set, held-out accuracy
    reference/                  fixed inputs with the training run's predictions for them

The ``kind`` says which decoder turns a request into the model's tensor: ``image``
(bytes, through :mod:`sfn_inference.core.imaging` and ``preprocessing``), ``series``
(N series of ``series_length`` floats) or ``tabular`` (one record of ``feature_names``).
"""

from __future__ import annotations

import hashlib
import json
import os
from functools import cached_property
from pathlib import Path
from typing import Literal, Self

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


Kind = Literal["image", "series", "tabular"]
Runtime = Literal["litert", "onnxruntime"]
#: The one file format each runtime loads.
MODEL_SUFFIX: dict[str, str] = {"litert": ".tflite", "onnxruntime": ".onnx"}


class BundleMetadata(BaseModel):
    name: str
    kind: Kind = "image"
    runtime: Runtime = "litert"
    model_file: str = Field(default="model.tflite", pattern=r"^[A-Za-z0-9_.-]+$")
    framework: str
    #: Batch dimension first; it is resized at run time.
    input_shape: list[int] = Field(min_length=2, max_length=4)
    input_dtype: Literal["float32"] = "float32"
    output: Literal["probabilities"] = "probabilities"
    preprocessing: Preprocessing | None = None
    series_length: int | None = Field(default=None, gt=0)
    #: How each series is normalised before the model, as in training (``core.series.znormalise``).
    series_normalisation: Literal["znormalise"] | None = None
    feature_names: list[str] | None = Field(default=None, min_length=1)
    dataset: Dataset
    test_accuracy: float = Field(ge=0.0, le=1.0)

    @model_validator(mode="after")
    def _model_file_matches_runtime(self) -> Self:
        # Each runtime reads one format, and neither is a pickle: nothing here unpickles a model.
        suffix = MODEL_SUFFIX[self.runtime]
        if not self.model_file.endswith(suffix):
            raise ValueError(f"a {self.runtime} model is a {suffix} file, not {self.model_file!r}")
        return self

    @model_validator(mode="after")
    def _schema_matches_kind(self) -> Self:
        shape = self.input_shape
        if self.kind == "image":
            p = self.preprocessing
            if p is None or len(shape) != 4 or tuple(shape[1:]) != (p.height, p.width, p.channels):
                raise ValueError(f"an image model needs preprocessing that matches input_shape {shape}")
        elif self.kind == "series":
            if self.series_length is None or shape[1] != self.series_length:
                raise ValueError(f"a series model needs series_length equal to input_shape[1] ({shape})")
        elif self.series_normalisation is not None:
            raise ValueError("series_normalisation is for series models only")
        if self.kind == "tabular" and (self.feature_names is None or shape != [shape[0], len(self.feature_names)]):
            raise ValueError(f"a tabular model needs one feature name per input column ({shape})")
        return self


class ModelBundle:
    def __init__(self, path: Path) -> None:
        self.path = path
        try:
            self.metadata = BundleMetadata.model_validate_json((path / "metadata.json").read_text())
            self.labels = [line.strip() for line in (path / "labels.txt").read_text().splitlines() if line.strip()]
        except FileNotFoundError as exc:
            raise ModelBundleError(f"bundle {path} is missing {Path(exc.filename).name}") from None
        except ValidationError as exc:
            raise ModelBundleError(f"{path}/metadata.json: {summarise_validation(exc)}") from None
        self.model_path = path / self.metadata.model_file
        if not self.model_path.is_file():
            raise ModelBundleError(f"{self.model_path} is missing")
        if not self.labels:
            raise ModelBundleError(f"{path}/labels.txt has no labels")

    @property
    def preprocessing(self) -> Preprocessing:
        if self.metadata.preprocessing is None:
            raise ModelBundleError(f"{self.path} is a {self.metadata.kind} model: it has no image preprocessing")
        return self.metadata.preprocessing

    @cached_property
    def version(self) -> str:
        """The model file's content hash: a metric dimension that changes exactly when the model does."""
        return hashlib.sha256(self.model_path.read_bytes()).hexdigest()[:12]

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
