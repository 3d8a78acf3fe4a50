"""Each function's settings, read from its environment once per execution environment.

One reader for all of them (:class:`EnvSettings`): a missing or malformed variable
is a :class:`ConfigError` naming it, raised when the composition root builds the
function, so a misconfigured function fails at once with a clear message rather
than deep inside a request. Plain code, not pydantic: this runs in every cold start,
and pydantic's import and schema building cost classify about 40 ms of it.
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Callable, Mapping
from dataclasses import MISSING, dataclass, field, fields
from typing import Any, Literal, Self

from sfn_inference.core.errors import ConfigError


@dataclass(frozen=True)
class Var:
    """How one field is read: its variable, the type it parses to, and the bounds it must keep."""

    name: str
    parse: Callable[[str], Any] = str
    ge: float | None = None
    gt: float | None = None
    le: float | None = None
    choices: tuple[str, ...] = ()
    min_length: int = 0

    def read(self, raw: str) -> Any:
        try:
            value = self.parse(raw)
        except ValueError:
            raise ConfigError(f"{self.name}: {raw[:40]!r} is not {_KINDS.get(self.parse, 'valid')}") from None
        if isinstance(value, float) and not math.isfinite(value):
            raise ConfigError(f"{self.name}: {raw[:40]!r} is not a finite number")
        if self.ge is not None and not value >= self.ge:
            raise ConfigError(f"{self.name}: must be at least {self.ge:g}, got {raw[:40]!r}")
        if self.gt is not None and not value > self.gt:
            raise ConfigError(f"{self.name}: must be greater than {self.gt:g}, got {raw[:40]!r}")
        if self.le is not None and not value <= self.le:
            raise ConfigError(f"{self.name}: must be at most {self.le:g}, got {raw[:40]!r}")
        if self.choices and value not in self.choices:
            raise ConfigError(f"{self.name}: must be one of {', '.join(self.choices)}, got {raw[:40]!r}")
        if len(str(value)) < self.min_length:
            raise ConfigError(f"{self.name}: must not be empty")
        return value


_KINDS: dict[Callable[[str], Any], str] = {int: "an integer", float: "a number"}


def env(name: str, default: Any = MISSING, **rules: Any) -> Any:
    """A field read from the variable ``name`` (an empty variable counts as unset)."""
    return field(default=default, metadata={"var": Var(name, **rules)})


@dataclass(frozen=True)
class EnvSettings:
    """Fields declared with :func:`env`; ``check`` holds the rules that span fields."""

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Self:
        environ = os.environ if environ is None else environ
        values: dict[str, Any] = {}
        try:
            for spec in fields(cls):
                var: Var = spec.metadata["var"]
                raw = environ.get(var.name, "")
                if raw != "":
                    values[spec.name] = var.read(raw)
                elif spec.default is MISSING:
                    raise ConfigError(f"{var.name} is required")
            settings = cls(**values)
            settings.check()
        except ConfigError as exc:
            raise ConfigError(f"{cls.__name__}: {exc}") from None
        return settings

    def check(self) -> None:
        """Rules that span fields: raise ConfigError naming the variables."""


@dataclass(frozen=True)
class FilterConfig(EnvSettings):
    threshold: float = env("CONFIDENCE_THRESHOLD", 0.93, parse=float, gt=0.0, le=1.0)


@dataclass(frozen=True)
class ClassifyConfig(EnvSettings):
    backend: Literal["litert", "sagemaker"] = env("BACKEND", "litert", choices=("litert", "sagemaker"))
    model_dir: str | None = env("MODEL_DIR", None)
    num_threads: int = env("LITERT_NUM_THREADS", 1, parse=int, ge=1, le=16)
    endpoint_name: str | None = env("ENDPOINT_NAME", None)

    def check(self) -> None:
        if self.backend == "sagemaker" and not self.endpoint_name:
            raise ConfigError("ENDPOINT_NAME is required when BACKEND=sagemaker")


@dataclass(frozen=True)
class MonitorConfig(EnvSettings):
    """The drift monitor: which captures, where the reports go, which bundle holds the baseline."""

    capture_source: str = env("CAPTURE_SOURCE", min_length=1)
    monitoring_output: str = env("MONITORING_OUTPUT", min_length=1)
    endpoint_name: str = env("MONITORED_ENDPOINT", min_length=1)
    model_dir: str | None = env("MODEL_DIR", None)
    window_minutes: int = env("WINDOW_MINUTES", 60, parse=int, ge=1, le=7 * 24 * 60)
    confidence_threshold: float = env("CONFIDENCE_THRESHOLD", 0.93, parse=float, gt=0.0, le=1.0)
    #: The metrics' dimension (the DriftAlarm watches it).
    stack_name: str = env("STACK_NAME", "sfn-inference")


@dataclass(frozen=True)
class BatchConfig(EnvSettings):
    """What a batch request may ask for, and its defaults: the template's Batch* parameters."""

    bucket: str = env("IMAGE_BUCKET", min_length=1)
    #: The prefixes the batch state machine may list and serialize may read (comma-separated).
    readable_prefixes: str = env("READABLE_PREFIXES", "incoming/,test/", min_length=1)
    batch_size: int = env("DEFAULT_BATCH_SIZE", 16, parse=int, ge=1, le=256)
    tolerated_failure_percentage: float = env("DEFAULT_TOLERATED_FAILURE_PERCENTAGE", 10, parse=float, ge=0, le=100)
    max_concurrency: int = env("DEFAULT_MAX_CONCURRENCY", 10, parse=int, ge=1, le=10_000)

    @property
    def prefixes(self) -> tuple[str, ...]:
        return tuple(p.strip() for p in self.readable_prefixes.split(",") if p.strip())


@dataclass(frozen=True)
class ModelConfig(EnvSettings):
    """A function that serves one model bundle in-process (the series and tabular functions)."""

    model_dir: str | None = env("MODEL_DIR", None)
    num_threads: int = env("NUM_THREADS", 1, parse=int, ge=1, le=16)


@dataclass(frozen=True)
class SeriesConfig(ModelConfig):
    #: The cap on N: about 10 KB of JSON per 500-value series, so 256 stay well inside
    #: Lambda's 6 MB request payload, and one LiteRT invoke of 256 series takes ~0.1 s.
    max_batch: int = env("MAX_SERIES_PER_REQUEST", 256, parse=int, ge=1, le=4096)


@dataclass(frozen=True)
class ImageApiConfig(EnvSettings):
    """An HTTP image route's model: which bundle, and LiteRT's threads (one per vCPU)."""

    model_dir: str | None = env("MODEL_DIR", None)
    num_threads: int = env("LITERT_NUM_THREADS", 1, parse=int, ge=1, le=16)


#: ``host`` or ``host:port``, as an allow-list entry names a server.
_HOST_PORT = re.compile(r"^(?P<host>[a-z0-9._-]+|\[[0-9a-f:.]+\])(?::(?P<port>\d{1,5}))?$")


@dataclass(frozen=True)
class UrlFetchConfig(EnvSettings):
    """The URL route's fetch limits. All of them keep a fetch well inside API Gateway's 30 s.

    ``URL_ALLOW_HOSTS`` (comma-separated ``host`` or ``host:port``) names servers that may be
    fetched even though they resolve to loopback, private or link-local addresses: locally,
    the local cloud's S3 (so a presigned URL works) and a test's own server. Empty on AWS.
    """

    allow_hosts: str = env("URL_ALLOW_HOSTS", "")
    max_bytes: int = env("URL_MAX_BYTES", 4 * 1024 * 1024, parse=int, gt=0, le=32 * 1024 * 1024)
    connect_timeout_s: float = env("URL_CONNECT_TIMEOUT_S", 3.0, parse=float, gt=0.0, le=10.0)
    #: The longest a server may stall between two reads...
    read_timeout_s: float = env("URL_READ_TIMEOUT_S", 5.0, parse=float, gt=0.0, le=20.0)
    #: ...and the longest the whole fetch may take, redirects included.
    total_timeout_s: float = env("URL_TOTAL_TIMEOUT_S", 12.0, parse=float, gt=0.0, le=25.0)
    max_redirects: int = env("URL_MAX_REDIRECTS", 3, parse=int, ge=0, le=10)
    #: Lambda's own Runtime API (set by Lambda): never fetched, allow-list or not.
    runtime_api: str = env("AWS_LAMBDA_RUNTIME_API", "")

    def check(self) -> None:
        for entry in _entries(self.allow_hosts):
            if not _HOST_PORT.match(entry):
                raise ConfigError(f"URL_ALLOW_HOSTS: {entry!r} is not host or host:port")

    @property
    def allowed(self) -> frozenset[tuple[str, int | None]]:
        """``(host, port)`` pairs; a None port allows every port of that host."""
        pairs = set()
        for entry in _entries(self.allow_hosts):
            found = _HOST_PORT.match(entry)
            assert found is not None  # checked by check()
            port = found.group("port")
            pairs.add((found.group("host").strip("[]"), int(port) if port else None))
        return frozenset(pairs)


def _entries(value: str) -> list[str]:
    return [part.strip().lower() for part in value.split(",") if part.strip()]
