"""iris's dependencies: the tabular bundle, its runtime (ONNX Runtime), and the capture recorder."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from sfn_inference.adapters.runtimes import open_model
from sfn_inference.core.bundle import ModelBundle, resolve_bundle_dir
from sfn_inference.core.ports import InferenceRecorder, ObjectStore, TensorModel
from sfn_inference.core.settings import ModelConfig
from sfn_inference.core.tabular import TabularSchema
from sfn_inference.datacapture.logstream import CaptureRecorder, log_capture_writer

BUNDLE = Path("models") / "iris"


@dataclass
class Iris:
    settings: ModelConfig
    bundle: ModelBundle
    schema: TabularSchema
    model: TensorModel
    recorder: InferenceRecorder | None


def build(
    settings: ModelConfig | None = None,
    *,
    model: TensorModel | None = None,
    store: ObjectStore | None = None,
    env: Mapping[str, str] | None = None,
) -> Iris:
    settings = settings or ModelConfig.from_env(env)
    bundle = ModelBundle(resolve_bundle_dir(settings.model_dir or str(BUNDLE)))
    schema = TabularSchema.of(bundle)
    writer = log_capture_writer(env, store=store)
    recorder = CaptureRecorder(writer) if writer is not None else None
    return Iris(settings, bundle, schema, model or open_model(bundle, settings.num_threads), recorder)
