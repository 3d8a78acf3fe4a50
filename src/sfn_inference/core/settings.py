"""Each function's settings, read from its environment once per execution environment.

One reader for all of them (:class:`EnvSettings`): a missing or malformed variable
is a :class:`ConfigError` naming it, raised when the composition root builds the
function, so a misconfigured function fails at once with a clear message rather
than deep inside a request.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Literal, Self

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from sfn_inference.core.errors import ConfigError, summarise_validation


class EnvSettings(BaseModel):
    """Fields aliased to environment variables; empty variables count as unset."""

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


class FilterConfig(EnvSettings):
    threshold: float = Field(default=0.93, gt=0.0, le=1.0, alias="CONFIDENCE_THRESHOLD")


class ClassifyConfig(EnvSettings):
    backend: Literal["litert", "sagemaker"] = Field(default="litert", alias="BACKEND")
    model_dir: str | None = Field(default=None, alias="MODEL_DIR")
    num_threads: int = Field(default=1, ge=1, le=16, alias="LITERT_NUM_THREADS")
    endpoint_name: str | None = Field(default=None, alias="ENDPOINT_NAME")

    @model_validator(mode="after")
    def _endpoint_for_sagemaker(self) -> Self:
        if self.backend == "sagemaker" and not self.endpoint_name:
            raise ValueError("ENDPOINT_NAME is required when BACKEND=sagemaker")
        return self


class ModelConfig(EnvSettings):
    """A function that serves one model bundle in-process (the series and tabular functions)."""

    model_dir: str | None = Field(default=None, alias="MODEL_DIR")
    num_threads: int = Field(default=1, ge=1, le=16, alias="NUM_THREADS")


class SeriesConfig(ModelConfig):
    #: The cap on N: about 10 KB of JSON per 500-value series, so 256 stay well inside
    #: Lambda's 6 MB request payload, and one LiteRT invoke of 256 series takes ~0.1 s.
    max_batch: int = Field(default=256, ge=1, le=4096, alias="MAX_SERIES_PER_REQUEST")
