"""The INIT readers (settings from the environment, bundle metadata) are plain code: each bad value is a
named error that says which variable or field, and nothing on classify's cold path imports pydantic."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from sfn_inference.core.bundle import ModelBundle
from sfn_inference.core.errors import ConfigError, ModelBundleError
from sfn_inference.core.settings import BatchConfig, ClassifyConfig, MonitorConfig, UrlFetchConfig
from support import BUNDLE_DIR, init_imports


def test_settings_parse_types_and_defaults() -> None:
    config = ClassifyConfig.from_env({"LITERT_NUM_THREADS": "4", "MODEL_DIR": ""})
    assert (config.backend, config.model_dir, config.num_threads, config.endpoint_name) == ("litert", None, 4, None)
    batch = BatchConfig.from_env({"IMAGE_BUCKET": "b", "DEFAULT_TOLERATED_FAILURE_PERCENTAGE": "2.5"})
    assert (batch.bucket, batch.batch_size, batch.tolerated_failure_percentage, batch.prefixes) == (
        "b", 16, 2.5, ("incoming/", "test/"),
    )  # fmt: skip


@pytest.mark.parametrize(
    ("config", "environ", "match"),
    [
        (
            ClassifyConfig,
            {"LITERT_NUM_THREADS": "four"},
            "ClassifyConfig: LITERT_NUM_THREADS: 'four' is not an integer",
        ),
        (ClassifyConfig, {"LITERT_NUM_THREADS": "17"}, "LITERT_NUM_THREADS: must be at most 16"),
        (ClassifyConfig, {"LITERT_NUM_THREADS": "0"}, "LITERT_NUM_THREADS: must be at least 1"),
        (ClassifyConfig, {"BACKEND": "tensorflow"}, "BACKEND: must be one of litert, sagemaker"),
        (ClassifyConfig, {"BACKEND": "sagemaker"}, "ENDPOINT_NAME is required when BACKEND=sagemaker"),
        (BatchConfig, {}, "BatchConfig: IMAGE_BUCKET is required"),
        (BatchConfig, {"IMAGE_BUCKET": "b", "DEFAULT_TOLERATED_FAILURE_PERCENTAGE": "nan"}, "not a finite number"),
        (MonitorConfig, {"CAPTURE_SOURCE": "s3://b/c", "MONITORING_OUTPUT": "s3://b/m"}, "MONITORED_ENDPOINT"),
        (UrlFetchConfig, {"URL_ALLOW_HOSTS": "ok:80, bad host"}, "URL_ALLOW_HOSTS: 'bad host' is not host"),
        (UrlFetchConfig, {"URL_CONNECT_TIMEOUT_S": "0"}, "URL_CONNECT_TIMEOUT_S: must be greater than 0"),
    ],
)
def test_a_bad_variable_is_a_config_error_naming_it(config: Any, environ: dict[str, str], match: str) -> None:
    with pytest.raises(ConfigError, match=match):
        config.from_env(environ)


def _bundle(tmp_path: Path, **changes: Any) -> Path:
    for name in ("model.tflite", "labels.txt"):
        (tmp_path / name).write_bytes((BUNDLE_DIR / name).read_bytes())
    metadata = json.loads((BUNDLE_DIR / "metadata.json").read_text())
    for key, value in changes.items():
        if value is None:
            metadata.pop(key, None)
        elif isinstance(value, dict) and isinstance(metadata.get(key), dict):
            metadata[key] = {**metadata[key], **value}
        else:
            metadata[key] = value
    (tmp_path / "metadata.json").write_text(json.dumps(metadata))
    return tmp_path


def test_the_committed_metadata_round_trips(tmp_path: Path) -> None:
    bundle = ModelBundle(BUNDLE_DIR)
    assert bundle.metadata.preprocessing is not None and bundle.preprocessing.channels in (1, 3)
    (tmp_path / "metadata.json").write_text(bundle.metadata.to_json())
    again = ModelBundle(_bundle(tmp_path, **json.loads((tmp_path / "metadata.json").read_text())))
    assert again.metadata == bundle.metadata


@pytest.mark.parametrize(
    ("changes", "match"),
    [
        ({"name": None}, "name: is required"),
        ({"input_shape": [1, 28, "28", 1]}, "input_shape: must be an integer"),
        ({"test_accuracy": 1.5}, "test_accuracy: must be within"),
        ({"runtime": "pickle"}, "runtime: must be one of litert, onnxruntime"),
        ({"model_file": "../model.tflite"}, "model_file"),
        ({"model_file": "model.onnx"}, "a litert model is a .tflite file"),
        ({"preprocessing": {"width": 0}}, "preprocessing.width: must be greater than 0"),
        ({"preprocessing": {"color_mode": "CMYK"}}, "preprocessing.color_mode: must be one of RGB, L"),
        ({"preprocessing": {"width": 7}}, "needs preprocessing that matches input_shape"),
        ({"dataset": {"train_size": True}}, "dataset.train_size: must be an integer"),
        ({"dataset": "mnist"}, "dataset: must be an object"),
    ],
)
def test_bad_metadata_is_a_bundle_error_naming_the_field(tmp_path: Path, changes: dict[str, Any], match: str) -> None:
    with pytest.raises(ModelBundleError, match=match):
        ModelBundle(_bundle(tmp_path, **changes))


def test_classify_starts_without_pydantic_or_powertools() -> None:
    env = {"CAPTURE_DESTINATION_S3_URI": "s3://capture-bucket/dc", "MODEL_DIR": str(BUNDLE_DIR),
           "POWERTOOLS_TRACE_DISABLED": "true"}  # fmt: skip
    assert init_imports("classify", env, ("pydantic", "aws_lambda_powertools", "boto3"), "app.deps.capture") == []
