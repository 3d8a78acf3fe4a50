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
import math
import os
import re
from dataclasses import MISSING, asdict, dataclass, field, fields
from functools import cached_property
from pathlib import Path
from typing import Any, Literal, Self, get_args

from sfn_inference.core.errors import ModelBundleError

#: The committed demo bundle, relative to the project root (or the Lambda task root).
DEFAULT_BUNDLE = Path("models") / "digits"

Kind = Literal["image", "series", "tabular"]
Runtime = Literal["litert", "onnxruntime"]
ColorMode = Literal["RGB", "L"]
#: The one file format each runtime loads.
MODEL_SUFFIX: dict[str, str] = {"litert": ".tflite", "onnxruntime": ".onnx"}
_MODEL_FILE = re.compile(r"^[A-Za-z0-9_.-]+$")

# The metadata is checked with plain code, not pydantic: it is read in every cold start,
# and pydantic's import and schema building cost more than the rest of classify's INIT.


class MetadataError(ValueError):
    """A field of metadata.json that is missing, of the wrong type or out of range (``ModelBundle``
    reports it as a ModelBundleError naming the file)."""


@dataclass(frozen=True)
class Preprocessing:
    """``tensor = resize(image, (width, height)).convert(color_mode) * scale - offset``."""

    width: int
    height: int
    color_mode: ColorMode = "RGB"
    scale: float = 1.0 / 255.0
    offset: float = 0.0
    min_side: int = 8

    def __post_init__(self) -> None:
        for name in ("width", "height", "min_side"):
            _check(name, getattr(self, name), int, positive=True)
        _check("scale", self.scale, float)
        _check("offset", self.offset, float)
        _check_choice("color_mode", self.color_mode, ColorMode)

    @property
    def channels(self) -> int:
        return 3 if self.color_mode == "RGB" else 1


@dataclass(frozen=True)
class Dataset:
    name: str
    source: str
    train_size: int
    test_size: int
    label_distribution: dict[str, float] = field(default_factory=dict)

    def __post_init__(self) -> None:
        _check("name", self.name, str)
        _check("source", self.source, str)
        _check("train_size", self.train_size, int)
        _check("test_size", self.test_size, int)
        if not isinstance(self.label_distribution, dict) or not all(
            isinstance(k, str) and _is(v, float) for k, v in self.label_distribution.items()
        ):
            raise MetadataError("label_distribution: must map each label to a number")


@dataclass(frozen=True)
class BundleMetadata:
    name: str
    framework: str
    #: Batch dimension first; it is resized at run time.
    input_shape: list[int]
    dataset: Dataset
    test_accuracy: float
    kind: Kind = "image"
    runtime: Runtime = "litert"
    model_file: str = "model.tflite"
    input_dtype: Literal["float32"] = "float32"
    output: Literal["probabilities"] = "probabilities"
    preprocessing: Preprocessing | None = None
    series_length: int | None = None
    #: How each series is normalised before the model, as in training (``core.series.znormalise``).
    series_normalisation: Literal["znormalise"] | None = None
    feature_names: list[str] | None = None

    def __post_init__(self) -> None:
        _check("name", self.name, str)
        _check("framework", self.framework, str)
        _check_choice("kind", self.kind, Kind)
        _check_choice("runtime", self.runtime, Runtime)
        _check_choice("input_dtype", self.input_dtype, Literal["float32"])
        _check_choice("output", self.output, Literal["probabilities"])
        _check("model_file", self.model_file, str)
        if not _MODEL_FILE.match(self.model_file):
            raise MetadataError(f"model_file: {self.model_file!r} is not a plain file name")
        if not isinstance(self.input_shape, list) or not 2 <= len(self.input_shape) <= 4:
            raise MetadataError("input_shape: must be a list of 2 to 4 dimensions")
        for dimension in self.input_shape:
            _check("input_shape", dimension, int)
        _check("test_accuracy", self.test_accuracy, float)
        if not 0.0 <= self.test_accuracy <= 1.0:
            raise MetadataError(f"test_accuracy: must be within [0, 1], got {self.test_accuracy}")
        if self.series_length is not None:
            _check("series_length", self.series_length, int, positive=True)
        if self.series_normalisation is not None:
            _check_choice("series_normalisation", self.series_normalisation, Literal["znormalise"])
        if self.feature_names is not None and (
            not isinstance(self.feature_names, list)
            or not self.feature_names
            or not all(isinstance(n, str) for n in self.feature_names)
        ):
            raise MetadataError("feature_names: must be a non-empty list of names")
        self._model_file_matches_runtime()
        self._schema_matches_kind()

    @classmethod
    def from_json(cls, text: str) -> Self:
        """Parse metadata.json; unknown keys are ignored, as they always were."""
        try:
            data = json.loads(text)
        except ValueError as exc:
            raise MetadataError(f"not JSON ({exc})") from None
        if not isinstance(data, dict):
            raise MetadataError("must be a JSON object")
        return cls(**_known(cls, data, nested={"dataset": Dataset, "preprocessing": Preprocessing}))

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2)

    def _model_file_matches_runtime(self) -> None:
        # Each runtime reads one format, and neither is a pickle: nothing here unpickles a model.
        suffix = MODEL_SUFFIX[self.runtime]
        if not self.model_file.endswith(suffix):
            raise MetadataError(f"a {self.runtime} model is a {suffix} file, not {self.model_file!r}")

    def _schema_matches_kind(self) -> None:
        shape = self.input_shape
        if self.kind == "image":
            p = self.preprocessing
            if p is None or len(shape) != 4 or tuple(shape[1:]) != (p.height, p.width, p.channels):
                raise MetadataError(f"an image model needs preprocessing that matches input_shape {shape}")
        elif self.kind == "series":
            if self.series_length is None or shape[1] != self.series_length:
                raise MetadataError(f"a series model needs series_length equal to input_shape[1] ({shape})")
        elif self.series_normalisation is not None:
            raise MetadataError("series_normalisation is for series models only")
        if self.kind == "tabular" and (self.feature_names is None or shape != [shape[0], len(self.feature_names)]):
            raise MetadataError(f"a tabular model needs one feature name per input column ({shape})")


def _is(value: Any, kind: type) -> bool:
    """JSON's types: bool is not a number, and an integer is a float."""
    if isinstance(value, bool):
        return False
    if kind is float:
        return isinstance(value, int | float) and math.isfinite(value)
    return isinstance(value, kind)


def _check(name: str, value: Any, kind: type, positive: bool = False) -> None:
    if not _is(value, kind):
        raise MetadataError(f"{name}: must be {_KIND_NAMES[kind]}, got {value!r:.60}")
    if positive and value <= 0:
        raise MetadataError(f"{name}: must be greater than 0, got {value!r}")


_KIND_NAMES: dict[type, str] = {int: "an integer", float: "a finite number", str: "a string"}


def _check_choice(name: str, value: Any, choices: Any) -> None:
    allowed = get_args(choices)
    if value not in allowed:
        raise MetadataError(f"{name}: must be one of {', '.join(map(str, allowed))}, got {value!r:.60}")


def _known(cls: type, data: dict[str, Any], nested: dict[str, type]) -> dict[str, Any]:
    """``data``'s keys that are fields of ``cls``, nested objects built; a missing required field is named."""
    for spec in fields(cls):
        if spec.default is MISSING and spec.default_factory is MISSING and spec.name not in data:
            raise MetadataError(f"{spec.name}: is required")
    values = {spec.name: data[spec.name] for spec in fields(cls) if spec.name in data}
    for key, kind in nested.items():
        if isinstance(values.get(key), dict):
            try:
                values[key] = kind(**_known(kind, values[key], {}))
            except MetadataError as exc:
                raise MetadataError(f"{key}.{exc}") from None
        elif values.get(key) is not None:
            raise MetadataError(f"{key}: must be an object")
    return values


class ModelBundle:
    def __init__(self, path: Path) -> None:
        self.path = path
        try:
            self.metadata = BundleMetadata.from_json((path / "metadata.json").read_text())
            self.labels = [line.strip() for line in (path / "labels.txt").read_text().splitlines() if line.strip()]
        except FileNotFoundError as exc:
            raise ModelBundleError(f"bundle {path} is missing {Path(exc.filename).name}") from None
        except MetadataError as exc:
            raise ModelBundleError(f"{path}/metadata.json: {exc}") from None
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
