"""Each function's configuration, read from its environment once and validated.

A missing or malformed variable is a :class:`ConfigError` naming it, raised at
import time of the handler, so a misconfigured function fails on its first
invocation with a clear message rather than deep inside a request.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Literal, Self

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from sfn_inference.errors import ConfigError, summarise_validation


class _EnvConfig(BaseModel):
    model_config = ConfigDict(frozen=True, populate_by_name=True)

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Self:
        env = os.environ if env is None else env
        fields = {f.alias or name for name, f in cls.model_fields.items()}
        values = {name: env[name] for name in fields if env.get(name, "") != ""}
        try:
            return cls.model_validate(values)
        except ValidationError as exc:
            raise ConfigError(f"{cls.__name__}: {summarise_validation(exc)}") from None


class FilterConfig(_EnvConfig):
    threshold: float = Field(default=0.93, gt=0.0, le=1.0, alias="CONFIDENCE_THRESHOLD")


class ClassifyConfig(_EnvConfig):
    backend: Literal["litert", "sagemaker"] = Field(default="litert", alias="BACKEND")
    model_dir: str | None = Field(default=None, alias="MODEL_DIR")
    num_threads: int = Field(default=1, ge=1, le=16, alias="LITERT_NUM_THREADS")
    endpoint_name: str | None = Field(default=None, alias="ENDPOINT_NAME")

    @model_validator(mode="after")
    def _endpoint_for_sagemaker(self) -> Self:
        if self.backend == "sagemaker" and not self.endpoint_name:
            raise ValueError("ENDPOINT_NAME is required when BACKEND=sagemaker")
        return self
