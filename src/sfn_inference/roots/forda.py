"""forda's dependencies: the series bundle, its runtime (LiteRT), and the capture recorder."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from sfn_inference.adapters.runtimes import open_model
from sfn_inference.core.bundle import ModelBundle, resolve_bundle_dir
from sfn_inference.core.ports import InferenceRecorder, ObjectStore, TensorModel
from sfn_inference.core.series import SeriesSchema
from sfn_inference.core.settings import SeriesConfig
from sfn_inference.datacapture.logstream import CaptureRecorder, log_capture_writer

BUNDLE = Path("models") / "forda"


@dataclass
class Forda:
    settings: SeriesConfig
    bundle: ModelBundle
    schema: SeriesSchema
    model: TensorModel
    recorder: InferenceRecorder | None


def build(
    settings: SeriesConfig | None = None,
    *,
    model: TensorModel | None = None,
    store: ObjectStore | None = None,
    env: Mapping[str, str] | None = None,
) -> Forda:
    settings = settings or SeriesConfig.from_env(env)
    bundle = ModelBundle(resolve_bundle_dir(settings.model_dir or str(BUNDLE)))
    schema = SeriesSchema.of(bundle, settings.max_batch)
    writer = log_capture_writer(env, store=store)
    recorder = CaptureRecorder(writer) if writer is not None else None
    return Forda(settings, bundle, schema, model or open_model(bundle, settings.num_threads), recorder)
