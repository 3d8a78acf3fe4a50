"""Each function's settings, read from its environment once per execution environment.

One reader for all of them (:class:`EnvSettings`): a missing or malformed variable
is a :class:`ConfigError` naming it, raised when the composition root builds the
function, so a misconfigured function fails at once with a clear message rather
than deep inside a request.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from typing import Literal, Self

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

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


class ModelConfig(EnvSettings):
    """A function that serves one model bundle in-process (the series and tabular functions)."""

    model_dir: str | None = Field(default=None, alias="MODEL_DIR")
    num_threads: int = Field(default=1, ge=1, le=16, alias="NUM_THREADS")


class SeriesConfig(ModelConfig):
    #: The cap on N: about 10 KB of JSON per 500-value series, so 256 stay well inside
    #: Lambda's 6 MB request payload, and one LiteRT invoke of 256 series takes ~0.1 s.
    max_batch: int = Field(default=256, ge=1, le=4096, alias="MAX_SERIES_PER_REQUEST")


class ImageApiConfig(EnvSettings):
    """An HTTP image route's model: which bundle, and LiteRT's threads (one per vCPU)."""

    model_dir: str | None = Field(default=None, alias="MODEL_DIR")
    num_threads: int = Field(default=1, ge=1, le=16, alias="LITERT_NUM_THREADS")


#: ``host`` or ``host:port``, as an allow-list entry names a server.
_HOST_PORT = re.compile(r"^(?P<host>[a-z0-9._-]+|\[[0-9a-f:.]+\])(?::(?P<port>\d{1,5}))?$")


class UrlFetchConfig(EnvSettings):
    """The URL route's fetch limits. All of them keep a fetch well inside API Gateway's 30 s.

    ``URL_ALLOW_HOSTS`` (comma-separated ``host`` or ``host:port``) names servers that may be
    fetched even though they resolve to loopback, private or link-local addresses: locally,
    the local cloud's S3 (so a presigned URL works) and a test's own server. Empty on AWS.
    """

    allow_hosts: str = Field(default="", alias="URL_ALLOW_HOSTS")
    max_bytes: int = Field(default=4 * 1024 * 1024, gt=0, le=32 * 1024 * 1024, alias="URL_MAX_BYTES")
    connect_timeout_s: float = Field(default=3.0, gt=0.0, le=10.0, alias="URL_CONNECT_TIMEOUT_S")
    #: The longest a server may stall between two reads...
    read_timeout_s: float = Field(default=5.0, gt=0.0, le=20.0, alias="URL_READ_TIMEOUT_S")
    #: ...and the longest the whole fetch may take, redirects included.
    total_timeout_s: float = Field(default=12.0, gt=0.0, le=25.0, alias="URL_TOTAL_TIMEOUT_S")
    max_redirects: int = Field(default=3, ge=0, le=10, alias="URL_MAX_REDIRECTS")
    #: Lambda's own Runtime API (set by Lambda): never fetched, allow-list or not.
    runtime_api: str = Field(default="", alias="AWS_LAMBDA_RUNTIME_API")

    @field_validator("allow_hosts")
    @classmethod
    def _host_ports(cls, value: str) -> str:
        for entry in _entries(value):
            if not _HOST_PORT.match(entry):
                raise ValueError(f"{entry!r} is not host or host:port")
        return value

    @property
    def allowed(self) -> frozenset[tuple[str, int | None]]:
        """``(host, port)`` pairs; a None port allows every port of that host."""
        pairs = set()
        for entry in _entries(self.allow_hosts):
            found = _HOST_PORT.match(entry)
            assert found is not None  # checked by the validator
            port = found.group("port")
            pairs.add((found.group("host").strip("[]"), int(port) if port else None))
        return frozenset(pairs)


def _entries(value: str) -> list[str]:
    return [part.strip().lower() for part in value.split(",") if part.strip()]
