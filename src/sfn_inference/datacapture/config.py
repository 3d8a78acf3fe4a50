"""Data capture's configuration: SageMaker's ``DataCaptureConfig`` (an EndpointConfig's dict, or the
``CAPTURE_*`` variables of the in-Lambda backend and of ``serving/server.py``) and the writer's buffering.

Checked with plain code, not pydantic: classify reads it in every cold start. The rules are
SageMaker's own (botocore's service model), so a config SageMaker would refuse is refused
here too, with a :class:`ConfigError` that names the field, or the variable it came from.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal, Self
from urllib.parse import urlparse

from sfn_inference.core.errors import ConfigError
from sfn_inference.core.settings import EnvSettings, env

DEFAULT_VARIANT = "AllTraffic"
#: The endpoint name the in-Lambda backend records under: there is no real endpoint.
DEFAULT_LAMBDA_ENDPOINT = "litert-in-lambda"
DEFAULT_MAX_AGE_SECONDS = 5.0
DEFAULT_MAX_FILE_BYTES = 4 * 1024 * 1024
#: What the SageMaker Python SDK sends when its caller names no content types. The raw
#: API, given no CaptureContentTypeHeader, stores everything as BASE64 instead.
SDK_CSV_CONTENT_TYPES = ("text/csv",)
SDK_JSON_CONTENT_TYPES = ("application/json",)

Encoding = Literal["CSV", "JSON", "BASE64"]
CaptureMode = Literal["Input", "Output", "InputAndOutput"]
_MODES: tuple[str, ...] = ("Input", "Output", "InputAndOutput")

# The environment of the in-Lambda backend (and of a standalone serving/server.py).
ENV_DESTINATION = "CAPTURE_DESTINATION_S3_URI"
ENV_SAMPLING = "CAPTURE_SAMPLING_PERCENTAGE"
ENV_OPTIONS = "CAPTURE_OPTIONS"
ENV_CSV_TYPES = "CAPTURE_CSV_CONTENT_TYPES"
ENV_JSON_TYPES = "CAPTURE_JSON_CONTENT_TYPES"
ENV_ENDPOINT = "CAPTURE_ENDPOINT_NAME"
ENV_VARIANT = "CAPTURE_VARIANT"
ENV_MAX_AGE = "CAPTURE_MAX_AGE_SECONDS"
ENV_MAX_FILE_BYTES = "CAPTURE_MAX_FILE_BYTES"
#: Which environment variable each field comes from, so a ConfigError names the variable.
_ENV_OF_FIELD = {
    "DestinationS3Uri": ENV_DESTINATION,
    "InitialSamplingPercentage": ENV_SAMPLING,
    "CaptureOptions": ENV_OPTIONS,
    "CsvContentTypes": ENV_CSV_TYPES,
    "JsonContentTypes": ENV_JSON_TYPES,
    "endpoint_name": ENV_ENDPOINT,
    "variant_name": ENV_VARIANT,
    "max_age_seconds": ENV_MAX_AGE,
    "max_file_bytes": ENV_MAX_FILE_BYTES,
}

# SageMaker's own constraints (botocore's service model).
_CONTENT_TYPE = re.compile(r"^[a-zA-Z0-9](-*[a-zA-Z0-9])*/[a-zA-Z0-9](-*[a-zA-Z0-9.])*$")
_RESOURCE_NAME = re.compile(r"^[a-zA-Z0-9](-*[a-zA-Z0-9])*$")


class InvalidField(ValueError):
    """One field's problem, with where it is (``loc``), as the callers' ConfigError reports it."""

    def __init__(self, loc: Sequence[str | int], message: str) -> None:
        super().__init__(f"{'.'.join(map(str, loc))}: {message}")
        self.loc = tuple(loc)
        self.message = message


@dataclass(frozen=True)
class CaptureContentTypeHeader:
    csv_content_types: tuple[str, ...] = ()
    json_content_types: tuple[str, ...] = ()

    @classmethod
    def parse(cls, data: Any, loc: tuple[str, ...] = ("CaptureContentTypeHeader",)) -> Self:
        fields = _shape(data, loc, {"CsvContentTypes", "JsonContentTypes"})
        return cls(
            csv_content_types=_content_types(fields.get("CsvContentTypes", ()), (*loc, "CsvContentTypes")),
            json_content_types=_content_types(fields.get("JsonContentTypes", ()), (*loc, "JsonContentTypes")),
        )


@dataclass(frozen=True)
class DataCaptureConfig:
    """An EndpointConfig's ``DataCaptureConfig``, as passed to CreateEndpointConfig.

    ``DestinationS3Uri`` may also be ``file:///abs/dir`` to write to a local directory.
    ``KmsKeyId`` is accepted but not applied: the bucket's default encryption applies.
    """

    initial_sampling_percentage: int
    destination_s3_uri: str
    capture_options: tuple[CaptureMode, ...]
    enable_capture: bool = True
    kms_key_id: str | None = None
    capture_content_type_header: CaptureContentTypeHeader | None = None

    @classmethod
    def parse(cls, data: Any) -> Self:
        """From SageMaker's PascalCase dict; unknown keys are typos, and are refused (InvalidField)."""
        known = {"EnableCapture", "InitialSamplingPercentage", "DestinationS3Uri", "KmsKeyId", "CaptureOptions",
                 "CaptureContentTypeHeader"}  # fmt: skip
        fields = _shape(data, (), known)
        enable = fields.get("EnableCapture", True)
        if not isinstance(enable, bool):
            raise InvalidField(["EnableCapture"], "must be true or false")
        sampling = fields.get("InitialSamplingPercentage")
        if sampling is None:
            raise InvalidField(["InitialSamplingPercentage"], "is required")
        if isinstance(sampling, bool) or not isinstance(sampling, int) or not 0 <= sampling <= 100:
            raise InvalidField(["InitialSamplingPercentage"], f"must be an integer from 0 to 100, got {sampling!r:.40}")
        kms = fields.get("KmsKeyId")
        if kms is not None and not isinstance(kms, str):
            raise InvalidField(["KmsKeyId"], "must be a string")
        header = fields.get("CaptureContentTypeHeader")
        return cls(
            initial_sampling_percentage=sampling,
            destination_s3_uri=_destination(fields.get("DestinationS3Uri")),
            capture_options=_capture_options(fields.get("CaptureOptions")),
            enable_capture=enable,
            kms_key_id=kms,
            capture_content_type_header=None if header is None else CaptureContentTypeHeader.parse(header),
        )

    @property
    def captures_input(self) -> bool:
        return any(mode in ("Input", "InputAndOutput") for mode in self.capture_options)

    @property
    def captures_output(self) -> bool:
        return any(mode in ("Output", "InputAndOutput") for mode in self.capture_options)

    def encoding_for(self, content_type: str) -> Encoding:
        """CSV or JSON when the media type (parameters ignored) is declared as such; else BASE64."""
        header = self.capture_content_type_header
        if header is None:
            return "BASE64"
        media = media_type(content_type)
        if media in {media_type(t) for t in header.csv_content_types}:
            return "CSV"
        if media in {media_type(t) for t in header.json_content_types}:
            return "JSON"
        return "BASE64"


@dataclass(frozen=True)
class CaptureConfig:
    """What a capture writer needs: SageMaker's config, where it records, how it buffers."""

    data_capture: DataCaptureConfig
    endpoint_name: str = DEFAULT_LAMBDA_ENDPOINT
    variant_name: str = DEFAULT_VARIANT
    #: A buffered file is written at most this long after its first record...
    max_age_seconds: float = DEFAULT_MAX_AGE_SECONDS
    #: ...or as soon as it would grow past this many bytes.
    max_file_bytes: int = DEFAULT_MAX_FILE_BYTES

    def __post_init__(self) -> None:
        for name in ("endpoint_name", "variant_name"):
            value = getattr(self, name)
            if not isinstance(value, str) or not 1 <= len(value) <= 63 or not _RESOURCE_NAME.match(value):
                raise InvalidField([name], f"{value!r:.70} is not a SageMaker resource name")
        age = self.max_age_seconds
        if isinstance(age, bool) or not isinstance(age, int | float) or not (math.isfinite(age) and 0 < age <= 3600):
            raise InvalidField(["max_age_seconds"], f"must be greater than 0 and at most 3600, got {age!r:.40}")
        size = self.max_file_bytes
        if isinstance(size, bool) or not isinstance(size, int) or size <= 0:
            raise InvalidField(["max_file_bytes"], f"must be a positive integer, got {size!r:.40}")

    @classmethod
    def from_sagemaker(
        cls,
        data_capture_config: Mapping[str, Any] | None,
        *,
        endpoint_name: str,
        variant_name: str = DEFAULT_VARIANT,
        env: Mapping[str, str] | None = None,
    ) -> Self | None:
        """From an EndpointConfig's DataCaptureConfig dict; None when it is absent or disabled.

        Buffering comes from ``CAPTURE_MAX_AGE_SECONDS`` / ``CAPTURE_MAX_FILE_BYTES`` in ``env``.
        """
        if not data_capture_config or data_capture_config.get("EnableCapture") is False:
            return None
        try:
            buffering = _buffering(CaptureEnv.from_env(env))
            return cls(DataCaptureConfig.parse(data_capture_config), endpoint_name, variant_name, **buffering)
        except InvalidField as exc:
            raise ConfigError(f"DataCaptureConfig: {exc}") from None

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Self | None:
        """From ``CAPTURE_*`` variables; None (capture off) when no destination is set.

        ``CAPTURE_OPTIONS`` is ``Input``, ``Output`` or ``Input,Output`` (the default);
        content types are comma-separated and default to what the SageMaker SDK sends.
        """
        variables = CaptureEnv.from_env(environ)
        if not variables.destination.strip():
            return None
        try:
            sampling = variables.sampling.strip()
            raw = {
                "DestinationS3Uri": variables.destination.strip(),
                "InitialSamplingPercentage": _integer(sampling, "InitialSamplingPercentage") if sampling else 100,
                "CaptureOptions": [{"CaptureMode": mode} for mode in _csv(variables.options) or ["Input", "Output"]],
                "CaptureContentTypeHeader": {
                    "CsvContentTypes": _csv(variables.csv_types) or list(SDK_CSV_CONTENT_TYPES),
                    "JsonContentTypes": _csv(variables.json_types) or list(SDK_JSON_CONTENT_TYPES),
                },
            }
            return cls(
                DataCaptureConfig.parse(raw),
                variables.endpoint_name.strip() or DEFAULT_LAMBDA_ENDPOINT,
                variables.variant_name.strip() or DEFAULT_VARIANT,
                **_buffering(variables),
            )
        except InvalidField as exc:
            named = [_ENV_OF_FIELD[str(p)] for p in exc.loc if str(p) in _ENV_OF_FIELD]
            raise ConfigError(f"data capture environment: {named[0] if named else exc}: {exc.message}") from None


@dataclass(frozen=True)
class CaptureEnv(EnvSettings):
    """The ``CAPTURE_*`` variables as text, read by the one settings reader; CaptureConfig checks them."""

    destination: str = env(ENV_DESTINATION, "")
    sampling: str = env(ENV_SAMPLING, "")
    options: str = env(ENV_OPTIONS, "")
    csv_types: str = env(ENV_CSV_TYPES, "")
    json_types: str = env(ENV_JSON_TYPES, "")
    endpoint_name: str = env(ENV_ENDPOINT, "")
    variant_name: str = env(ENV_VARIANT, "")
    max_age_seconds: str = env(ENV_MAX_AGE, "")
    max_file_bytes: str = env(ENV_MAX_FILE_BYTES, "")


def media_type(content_type: str) -> str:
    """``"Text/CSV; charset=utf-8"`` -> ``"text/csv"``."""
    return content_type.split(";", 1)[0].strip().lower()


def _shape(data: Any, loc: tuple[str, ...], known: set[str]) -> Mapping[str, Any]:
    if not isinstance(data, Mapping):
        raise InvalidField(loc or ["DataCaptureConfig"], "must be an object")
    for key in data:
        if key not in known:
            raise InvalidField([*loc, str(key)], "extra inputs are not permitted")
    return data


def _destination(value: Any) -> str:
    if not isinstance(value, str) or not 1 <= len(value) <= 512:
        raise InvalidField(["DestinationS3Uri"], "is required, a string of at most 512 characters")
    parsed = urlparse(value)
    if (parsed.scheme == "s3" and parsed.netloc) or (parsed.scheme == "file" and parsed.path.startswith("/")):
        return value
    raise InvalidField(
        ["DestinationS3Uri"], "must be s3://bucket[/prefix] (or file:///absolute/dir for a local directory)"
    )


def _capture_options(value: Any) -> tuple[CaptureMode, ...]:
    if not isinstance(value, list | tuple) or not 1 <= len(value) <= 32:
        raise InvalidField(["CaptureOptions"], "must be a list of 1 to 32 options")
    modes: list[CaptureMode] = []
    for i, option in enumerate(value):
        mode = _shape(option, ("CaptureOptions", str(i)), {"CaptureMode"}).get("CaptureMode")
        if mode not in _MODES:
            raise InvalidField(
                ["CaptureOptions", i, "CaptureMode"], f"must be one of {', '.join(_MODES)}, got {mode!r:.40}"
            )
        modes.append(mode)
    return tuple(modes)


def _content_types(value: Any, loc: tuple[str, ...]) -> tuple[str, ...]:
    if not isinstance(value, list | tuple) or len(value) > 10:
        raise InvalidField(loc, "must be a list of at most 10 content types")
    for i, item in enumerate(value):
        if not isinstance(item, str) or not 1 <= len(item) <= 256 or not _CONTENT_TYPE.match(item):
            raise InvalidField([*loc, i], f"{item!r:.60} is not a content type")
    return tuple(value)


def _integer(text: str, name: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise InvalidField([name], f"{text[:40]!r} is not an integer") from None


def _buffering(variables: CaptureEnv) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if age := variables.max_age_seconds.strip():
        try:
            out["max_age_seconds"] = float(age)
        except ValueError:
            raise InvalidField(["max_age_seconds"], f"{age[:40]!r} is not a number") from None
    if size := variables.max_file_bytes.strip():
        out["max_file_bytes"] = _integer(size, "max_file_bytes")
    return out


def _csv(value: str | None) -> list[str]:
    return [part.strip() for part in (value or "").split(",") if part.strip()]
