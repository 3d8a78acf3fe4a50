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


class MonitorConfig(EnvSettings):
    """The drift monitor: which captures, where the reports go, which bundle holds the baseline."""

    capture_source: str = Field(alias="CAPTURE_SOURCE", min_length=1)
    monitoring_output: str = Field(alias="MONITORING_OUTPUT", min_length=1)
    endpoint_name: str = Field(alias="MONITORED_ENDPOINT", min_length=1)
    model_dir: str | None = Field(default=None, alias="MODEL_DIR")
    window_minutes: int = Field(default=60, ge=1, le=7 * 24 * 60, alias="WINDOW_MINUTES")
    confidence_threshold: float = Field(default=0.93, gt=0.0, le=1.0, alias="CONFIDENCE_THRESHOLD")
    #: The metrics' dimension (the DriftAlarm watches it).
    stack_name: str = Field(default="sfn-inference", alias="STACK_NAME")


class BatchConfig(EnvSettings):
    """What a batch request may ask for, and its defaults: the template's Batch* parameters."""

    bucket: str = Field(min_length=1, alias="IMAGE_BUCKET")
    #: The prefixes the batch state machine may list and serialize may read (comma-separated).
    readable_prefixes: str = Field(default="incoming/,test/", min_length=1, alias="READABLE_PREFIXES")
    batch_size: int = Field(default=16, ge=1, le=256, alias="DEFAULT_BATCH_SIZE")
    tolerated_failure_percentage: float = Field(default=10, ge=0, le=100, alias="DEFAULT_TOLERATED_FAILURE_PERCENTAGE")
    max_concurrency: int = Field(default=10, ge=1, le=10_000, alias="DEFAULT_MAX_CONCURRENCY")

    @property
    def prefixes(self) -> tuple[str, ...]:
        return tuple(p.strip() for p in self.readable_prefixes.split(",") if p.strip())
