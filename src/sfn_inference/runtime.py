"""What a classify execution environment builds once: config, store, predictor.

Tests inject fakes by assigning ``store`` or ``predictor`` before the first call.
"""

from __future__ import annotations

from typing import Any

from sfn_inference.bundle import ModelBundle, resolve_bundle_dir
from sfn_inference.config import ClassifyConfig
from sfn_inference.predictors import LiteRTPredictor, Predictor, SageMakerPredictor
from sfn_inference.store import ObjectStore, S3ObjectStore


class ClassifyRuntime:
    def __init__(self, config: ClassifyConfig | None = None) -> None:
        self._config = config
        self.store: ObjectStore = S3ObjectStore()
        self._predictor: Predictor | None = None
        self.model_loads = 0
        self.invocations = 0

    @property
    def config(self) -> ClassifyConfig:
        if self._config is None:
            self._config = ClassifyConfig.from_env()
        return self._config

    @property
    def predictor(self) -> Predictor:
        if self._predictor is None:
            self._predictor = build_predictor(self.config)
            self.model_loads += 1
        return self._predictor

    @predictor.setter
    def predictor(self, value: Predictor) -> None:
        self._predictor = value

    def diagnostics(self) -> dict[str, Any]:
        return {"model_loads": self.model_loads, "invocations": self.invocations, "backend": self.config.backend}


def build_predictor(config: ClassifyConfig) -> Predictor:
    bundle = ModelBundle(resolve_bundle_dir(config.model_dir))
    if config.backend == "sagemaker":
        assert config.endpoint_name is not None  # checked by ClassifyConfig
        return SageMakerPredictor(config.endpoint_name, bundle.labels)
    return LiteRTPredictor(bundle, num_threads=config.num_threads)
