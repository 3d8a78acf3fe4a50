"""SageMaker Model Monitor data capture, written exactly as SageMaker writes it.

Used by the endpoint server (``serving/server.py``, on the local cloud) and by the
in-Lambda LiteRT backend, so monitoring tools read one format whichever backend
ran the model. Each sampled request becomes one JSON line::

    {"captureData": {"endpointInput": {"observedContentType", "mode": "INPUT", "data", "encoding"},
                     "endpointOutput": {... "mode": "OUTPUT" ...}},
     "eventMetadata": {"eventId", "inferenceTime", "inferenceId" (only when the caller gave one)},
     "eventVersion": "0"}

and lines are buffered and written together, one object per time window, at::

    {DestinationS3Uri}/{endpoint}/{variant}/yyyy/mm/dd/hh/{MM-SS-mmm}-{uuid}.jsonl

A capture must never fail an inference: encoding and write failures are logged
and counted in :class:`CaptureCounters`, never raised. (:mod:`sfn_workbench.capture_reader`
is the reader of these files; it pulls in pandas, so the Lambda never imports it.)
"""

from __future__ import annotations

import base64
import logging
import random
import threading
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from json.encoder import encode_basestring_ascii as json_string
from pathlib import Path
from typing import Annotated, Any, Literal, Protocol, Self
from urllib.parse import unquote, urlparse

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, ValidationError, field_validator

from sfn_inference.core.errors import ConfigError, summarise_validation
from sfn_inference.core.ports import ObjectStore
from sfn_inference.core.settings import EnvSettings

log = logging.getLogger(__name__)

DEFAULT_VARIANT = "AllTraffic"
#: The endpoint name the in-Lambda backend records under: there is no real endpoint.
DEFAULT_LAMBDA_ENDPOINT = "litert-in-lambda"
DEFAULT_MAX_AGE_SECONDS = 5.0
DEFAULT_MAX_FILE_BYTES = 4 * 1024 * 1024
#: What the SageMaker Python SDK sends when its caller names no content types. The raw
#: API, given no CaptureContentTypeHeader, stores everything as BASE64 instead.
SDK_CSV_CONTENT_TYPES = ("text/csv",)
SDK_JSON_CONTENT_TYPES = ("application/json",)
CAPTURE_FILE_CONTENT_TYPE = "application/jsonlines"

Encoding = Literal["CSV", "JSON", "BASE64"]
Mode = Literal["INPUT", "OUTPUT"]

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

# SageMaker's own constraints (botocore's service model), so a config that SageMaker
# would reject is rejected here too.
ContentType = Annotated[
    str,
    StringConstraints(
        min_length=1, max_length=256, pattern=r"^[a-zA-Z0-9](-*[a-zA-Z0-9])*/[a-zA-Z0-9](-*[a-zA-Z0-9.])*$"
    ),
]
ResourceName = Annotated[str, StringConstraints(min_length=1, max_length=63, pattern=r"^[a-zA-Z0-9](-*[a-zA-Z0-9])*$")]


# --- configuration ---------------------------------------------------------------------------------


class _SageMakerShape(BaseModel):
    """Parses SageMaker's PascalCase dicts; unknown keys are typos, and are rejected."""

    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)


class CaptureOption(_SageMakerShape):
    capture_mode: Literal["Input", "Output", "InputAndOutput"] = Field(alias="CaptureMode")


class CaptureContentTypeHeader(_SageMakerShape):
    csv_content_types: tuple[ContentType, ...] = Field(default=(), alias="CsvContentTypes", max_length=10)
    json_content_types: tuple[ContentType, ...] = Field(default=(), alias="JsonContentTypes", max_length=10)


class DataCaptureConfig(_SageMakerShape):
    """An EndpointConfig's ``DataCaptureConfig``, as passed to CreateEndpointConfig.

    ``DestinationS3Uri`` may also be ``file:///abs/dir`` to write to a local directory.
    ``KmsKeyId`` is accepted but not applied: the bucket's default encryption applies.
    """

    enable_capture: bool = Field(default=True, alias="EnableCapture")
    initial_sampling_percentage: int = Field(ge=0, le=100, alias="InitialSamplingPercentage")
    destination_s3_uri: str = Field(min_length=1, max_length=512, alias="DestinationS3Uri")
    kms_key_id: str | None = Field(default=None, alias="KmsKeyId")
    capture_options: tuple[CaptureOption, ...] = Field(min_length=1, max_length=32, alias="CaptureOptions")
    capture_content_type_header: CaptureContentTypeHeader | None = Field(default=None, alias="CaptureContentTypeHeader")

    @field_validator("destination_s3_uri")
    @classmethod
    def _s3_or_local(cls, value: str) -> str:
        parsed = urlparse(value)
        if parsed.scheme == "s3" and parsed.netloc:
            return value
        if parsed.scheme == "file" and parsed.path.startswith("/"):
            return value
        raise ValueError("must be s3://bucket[/prefix] (or file:///absolute/dir for a local directory)")

    @property
    def captures_input(self) -> bool:
        return any(o.capture_mode in ("Input", "InputAndOutput") for o in self.capture_options)

    @property
    def captures_output(self) -> bool:
        return any(o.capture_mode in ("Output", "InputAndOutput") for o in self.capture_options)

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


class CaptureConfig(BaseModel):
    """What a :class:`CaptureWriter` needs: SageMaker's config, where it records, how it buffers."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    data_capture: DataCaptureConfig
    endpoint_name: ResourceName = DEFAULT_LAMBDA_ENDPOINT
    variant_name: ResourceName = DEFAULT_VARIANT
    #: A buffered file is written at most this long after its first record...
    max_age_seconds: float = Field(default=DEFAULT_MAX_AGE_SECONDS, gt=0.0, le=3600.0)
    #: ...or as soon as it would grow past this many bytes.
    max_file_bytes: int = Field(default=DEFAULT_MAX_FILE_BYTES, gt=0)

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
            return cls.model_validate(
                {
                    "data_capture": DataCaptureConfig.model_validate(data_capture_config),
                    "endpoint_name": endpoint_name,
                    "variant_name": variant_name,
                    **_buffering(CaptureEnv.from_env(env)),
                }
            )
        except ValidationError as exc:
            raise ConfigError(f"DataCaptureConfig: {summarise_validation(exc)}") from None

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Self | None:
        """From ``CAPTURE_*`` variables; None (capture off) when no destination is set.

        ``CAPTURE_OPTIONS`` is ``Input``, ``Output`` or ``Input,Output`` (the default);
        content types are comma-separated and default to what the SageMaker SDK sends.
        """
        variables = CaptureEnv.from_env(env)
        if not variables.destination.strip():
            return None
        raw = {
            "DestinationS3Uri": variables.destination.strip(),
            "InitialSamplingPercentage": variables.sampling.strip() or 100,
            "CaptureOptions": [{"CaptureMode": mode} for mode in _csv(variables.options) or ["Input", "Output"]],
            "CaptureContentTypeHeader": {
                "CsvContentTypes": _csv(variables.csv_types) or list(SDK_CSV_CONTENT_TYPES),
                "JsonContentTypes": _csv(variables.json_types) or list(SDK_JSON_CONTENT_TYPES),
            },
        }
        names = {"endpoint_name": variables.endpoint_name.strip(), "variant_name": variables.variant_name.strip()}
        try:
            return cls.model_validate(
                {"data_capture": DataCaptureConfig.model_validate(raw), **{k: v for k, v in names.items() if v}}
                | _buffering(variables)
            )
        except ValidationError as exc:
            raise ConfigError(f"data capture environment: {_summarise_env(exc)}") from None


class CaptureEnv(EnvSettings):
    """The ``CAPTURE_*`` variables as text, read by the one settings reader; CaptureConfig validates them."""

    destination: str = Field(default="", alias="CAPTURE_DESTINATION_S3_URI")
    sampling: str = Field(default="", alias="CAPTURE_SAMPLING_PERCENTAGE")
    options: str = Field(default="", alias="CAPTURE_OPTIONS")
    csv_types: str = Field(default="", alias="CAPTURE_CSV_CONTENT_TYPES")
    json_types: str = Field(default="", alias="CAPTURE_JSON_CONTENT_TYPES")
    endpoint_name: str = Field(default="", alias="CAPTURE_ENDPOINT_NAME")
    variant_name: str = Field(default="", alias="CAPTURE_VARIANT")
    max_age_seconds: str = Field(default="", alias="CAPTURE_MAX_AGE_SECONDS")
    max_file_bytes: str = Field(default="", alias="CAPTURE_MAX_FILE_BYTES")


def _buffering(variables: CaptureEnv) -> dict[str, str]:
    values = {"max_age_seconds": variables.max_age_seconds, "max_file_bytes": variables.max_file_bytes}
    return {k: v.strip() for k, v in values.items() if v.strip()}


def _csv(value: str | None) -> list[str]:
    return [part.strip() for part in (value or "").split(",") if part.strip()]


def _summarise_env(exc: ValidationError) -> str:
    parts = []
    for error in exc.errors()[:5]:
        names = [_ENV_OF_FIELD[str(p)] for p in error["loc"] if str(p) in _ENV_OF_FIELD]
        parts.append(f"{names[0] if names else '.'.join(map(str, error['loc']))}: {error['msg']}")
    return "; ".join(parts)


def media_type(content_type: str) -> str:
    """``"Text/CSV; charset=utf-8"`` -> ``"text/csv"``."""
    return content_type.split(";", 1)[0].strip().lower()


# --- records ---------------------------------------------------------------------------------------


def iso_millis(when: datetime) -> str:
    """ISO-8601 UTC with milliseconds and a Z, as SageMaker writes inferenceTime."""
    return when.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def encode_side(mode: Mode, content_type: str, body: bytes, encoding: Encoding) -> dict[str, str]:
    """One of ``endpointInput`` / ``endpointOutput``: CSV and JSON as their text, anything else BASE64."""
    if encoding != "BASE64":
        try:
            return {
                "observedContentType": content_type,
                "mode": mode,
                "data": body.decode("utf-8"),
                "encoding": encoding,
            }
        except UnicodeDecodeError:
            pass  # declared as text but is not UTF-8: keep the bytes rather than lose the record
    data = base64.b64encode(body).decode("ascii")
    return {"observedContentType": content_type, "mode": mode, "data": data, "encoding": "BASE64"}


def build_record(
    config: DataCaptureConfig,
    *,
    input_body: bytes,
    input_content_type: str,
    output_body: bytes,
    output_content_type: str,
    inference_time: datetime,
    event_id: str | None = None,
    inference_id: str | None = None,
) -> dict[str, Any]:
    """One capture record; the side CaptureOptions leaves out is omitted, not emptied."""
    capture: dict[str, Any] = {}
    if config.captures_input:
        capture["endpointInput"] = encode_side(
            "INPUT", input_content_type, input_body, config.encoding_for(input_content_type)
        )
    if config.captures_output:
        capture["endpointOutput"] = encode_side(
            "OUTPUT", output_content_type, output_body, config.encoding_for(output_content_type)
        )
    metadata = {"eventId": event_id or str(uuid.uuid4()), "inferenceTime": iso_millis(inference_time)}
    if inference_id:
        metadata["inferenceId"] = inference_id
    return {"captureData": capture, "eventMetadata": metadata, "eventVersion": "0"}


def capture_path(endpoint_name: str, variant_name: str, first_record: datetime, file_id: str | None = None) -> str:
    """``{endpoint}/{variant}/yyyy/mm/dd/hh/{MM-SS-mmm}-{uuid}.jsonl``, relative to the destination."""
    when = first_record.astimezone(UTC)
    name = f"{when:%M-%S}-{when.microsecond // 1000:03d}-{file_id or uuid.uuid4()}.jsonl"
    return f"{endpoint_name}/{variant_name}/{when:%Y/%m/%d/%H}/{name}"


class RecordEncoder:
    """:func:`build_record` encoded as compact JSON, the same bytes, in a few microseconds.

    The writer encodes a record per inference on the hot path; a dict and ``json.dumps``
    cost 20-40 us there. Everything that does not change between records (the capture
    options, each content type's encoding and its JSON string) is worked out once, and
    base64 needs no escaping. ``tests/unit/datacapture/test_writer.py`` holds the two to
    byte equality.
    """

    def __init__(self, config: DataCaptureConfig) -> None:
        self.config = config
        self._input, self._output = config.captures_input, config.captures_output
        self._sides: dict[tuple[Mode, str], tuple[str, Encoding]] = {}

    def _side(self, mode: Mode, content_type: str) -> tuple[str, Encoding]:
        known = self._sides.get((mode, content_type))
        if known is None:
            encoding = self.config.encoding_for(content_type)
            head = f'{{"observedContentType":{json_string(content_type)},"mode":"{mode}","data":'
            known = self._sides[(mode, content_type)] = (head, encoding)
        return known

    def _encode_side(self, mode: Mode, content_type: str, body: bytes) -> str:
        head, encoding = self._side(mode, content_type)
        if encoding != "BASE64":
            try:
                return f'{head}{json_string(body.decode("utf-8"))},"encoding":"{encoding}"}}'
            except UnicodeDecodeError:
                pass  # declared as text but is not UTF-8: keep the bytes rather than lose the record
        return f'{head}"{base64.b64encode(body).decode("ascii")}","encoding":"BASE64"}}'

    def encode(
        self,
        *,
        input_body: bytes,
        input_content_type: str,
        output_body: bytes,
        output_content_type: str,
        inference_time: datetime,
        event_id: str | None = None,
        inference_id: str | None = None,
    ) -> str:
        """One record as one line of JSON (no newline), exactly ``json.dumps(build_record(...))``."""
        sides = []
        if self._input:
            sides.append(f'"endpointInput":{self._encode_side("INPUT", input_content_type, input_body)}')
        if self._output:
            sides.append(f'"endpointOutput":{self._encode_side("OUTPUT", output_content_type, output_body)}')
        metadata = f'"eventId":{json_string(event_id or str(uuid.uuid4()))}'
        metadata += f',"inferenceTime":"{iso_millis(inference_time)}"'
        if inference_id:
            metadata += f',"inferenceId":{json_string(inference_id)}'
        return f'{{"captureData":{{{",".join(sides)}}},"eventMetadata":{{{metadata}}},"eventVersion":"0"}}'


# --- sinks -----------------------------------------------------------------------------------------


class CaptureSink(Protocol):
    def write(self, path: str, body: bytes) -> None:
        """Store one capture file at ``path`` (relative to the destination); raise on failure."""


class ObjectStoreSink:
    """An ``s3://bucket/prefix`` destination, through the project's ObjectStore (S3 or a fake)."""

    def __init__(self, store: ObjectStore, destination_s3_uri: str) -> None:
        parsed = urlparse(destination_s3_uri)
        if parsed.scheme != "s3" or not parsed.netloc:
            raise ConfigError(f"not an s3:// destination: {destination_s3_uri!r}")
        self.store = store
        self.bucket = parsed.netloc
        self.prefix = parsed.path.strip("/")

    def write(self, path: str, body: bytes) -> None:
        key = f"{self.prefix}/{path}" if self.prefix else path
        self.store.put(self.bucket, key, body, CAPTURE_FILE_CONTENT_TYPE)


class LocalDirectorySink:
    """A local directory laid out like the S3 destination."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def write(self, path: str, body: bytes) -> None:
        target = self.root / path
        target.parent.mkdir(parents=True, exist_ok=True)
        # Write then rename, so a reader listing the directory never sees half a file.
        partial = target.with_name(f".{target.name}.partial")
        partial.write_bytes(body)
        partial.replace(target)


def sink_for(destination: str, store: ObjectStore | None = None) -> CaptureSink:
    """The sink for a DestinationS3Uri: S3 through ``store`` (default: boto3), or ``file://`` local."""
    parsed = urlparse(destination)
    if parsed.scheme == "file":
        return LocalDirectorySink(Path(unquote(parsed.path)))
    if store is None:
        from sfn_inference.adapters.s3 import S3ObjectStore  # noqa: PLC0415 - boto3 only when S3 is written

        store = S3ObjectStore()
    return ObjectStoreSink(store, destination)


# --- the writer ------------------------------------------------------------------------------------

#: One request for :meth:`CaptureWriter.capture_many`: input body and content type, output body and content type.
CaptureRequest = tuple[bytes, str, bytes, str]


@dataclass
class CaptureCounters:
    captured: int = 0  # sampled in and buffered
    skipped_by_sampling: int = 0
    written_records: int = 0
    files_written: int = 0
    failed_writes: int = 0  # files the sink failed to store
    dropped_records: int = 0  # records lost: in a failed file, or not encodable

    def as_dict(self) -> dict[str, int]:
        return asdict(self)


@dataclass
class _Buffer:
    first: datetime
    lines: list[bytes] = field(default_factory=list)
    size: int = 0

    @property
    def hour(self) -> datetime:
        return _hour(self.first)


def _hour(when: datetime) -> datetime:
    return when.astimezone(UTC).replace(minute=0, second=0, microsecond=0)


def _utcnow() -> datetime:
    return datetime.now(UTC)


class CaptureWriter:
    """Samples, encodes and buffers capture records; writes one file per window. Thread-safe.

    A buffered file is written when the next record falls in another hour, when it
    would exceed ``max_file_bytes``, when its first record is ``max_age_seconds``
    old (checked on each capture and, with ``background=True``, by a daemon
    thread), and on :meth:`flush` / :meth:`close`. A Lambda handler calls
    :meth:`flush` at the end of each invocation: a frozen environment runs no thread.
    """

    def __init__(
        self,
        config: CaptureConfig,
        sink: CaptureSink,
        *,
        rng: random.Random | None = None,
        clock: Callable[[], datetime] = _utcnow,
        background: bool = False,
    ) -> None:
        self.config = config
        self.sink = sink
        self.counters = CaptureCounters()
        self._rng = rng or random.Random()
        self._clock = clock
        self._max_age = timedelta(seconds=config.max_age_seconds)
        self._encoder = RecordEncoder(config.data_capture)
        self._percentage = config.data_capture.initial_sampling_percentage
        self._lock = threading.Lock()
        self._buffer: _Buffer | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        if background:
            self._thread = threading.Thread(target=self._flush_periodically, name="capture-flush", daemon=True)
            self._thread.start()

    def capture(
        self,
        *,
        input_body: bytes,
        input_content_type: str,
        output_body: bytes,
        output_content_type: str,
        inference_id: str | None = None,
    ) -> bool:
        """Record one request and its response if sampled; True when buffered. Never raises."""
        try:
            return self._capture(input_body, input_content_type, output_body, output_content_type, inference_id)
        except Exception:
            log.exception("data capture: could not record an inference (the inference itself succeeded)")
            with self._lock:
                self.counters.dropped_records += 1
            return False

    def _capture(
        self, input_body: bytes, input_type: str, output_body: bytes, output_type: str, inference_id: str | None
    ) -> bool:
        with self._lock:  # one seeded RNG, one draw per request, in call order
            sampled = self._rng.random() * 100.0 < self.config.data_capture.initial_sampling_percentage
            if not sampled:
                self.counters.skipped_by_sampling += 1
                return False
        now = self._clock()
        record = self._encoder.encode(
            input_body=input_body,
            input_content_type=input_type,
            output_body=output_body,
            output_content_type=output_type,
            inference_time=now,
            inference_id=inference_id,
        )
        self._store(record, now)
        return True

    def capture_many(self, requests: Sequence[CaptureRequest]) -> int:
        """:meth:`capture` for each request, in order, with one clock reading and one store for the
        lot (one log write for a batch). Returns how many were recorded. Never raises."""
        try:
            with self._lock:
                sampled = [r for r in requests if self._rng.random() * 100.0 < self._percentage]
                self.counters.skipped_by_sampling += len(requests) - len(sampled)
            now = self._clock()
            records = [
                self._encoder.encode(
                    input_body=r[0], input_content_type=r[1], output_body=r[2], output_content_type=r[3],
                    inference_time=now,
                )
                for r in sampled
            ]  # fmt: skip
        except Exception:
            log.exception("data capture: could not record %d inferences (they succeeded)", len(requests))
            with self._lock:
                self.counters.dropped_records += len(requests)
            return 0
        self._store_many(records, now)
        return len(records)

    def _store_many(self, records: list[str], now: datetime) -> None:
        for record in records:
            self._store(record, now)

    def _store(self, record: str, now: datetime) -> None:
        """Buffer one encoded record (a line of ASCII JSON, without its newline); write the files that are due."""
        line = record.encode() + b"\n"
        due: list[_Buffer] = []
        with self._lock:
            buffer = self._buffer
            if buffer is not None and (
                buffer.hour != _hour(now)
                or buffer.size + len(line) > self.config.max_file_bytes
                or now - buffer.first >= self._max_age
            ):
                due.append(buffer)
                buffer = None
            if buffer is None:
                buffer = _Buffer(first=now)
            buffer.lines.append(line)
            buffer.size += len(line)
            self.counters.captured += 1
            if buffer.size >= self.config.max_file_bytes:
                due.append(buffer)  # a record as big as a file goes out on its own, now
                buffer = None
            self._buffer = buffer
        for full in due:
            self._write(full)

    def flush(self) -> None:
        """Write whatever is buffered, now. Never raises."""
        with self._lock:
            buffer, self._buffer = self._buffer, None
        if buffer is not None:
            self._write(buffer)

    def flush_if_due(self) -> None:
        with self._lock:
            buffer = self._buffer
            if buffer is None or self._clock() - buffer.first < self._max_age:
                return
            self._buffer = None
        self._write(buffer)

    def close(self) -> None:
        """Stop the background thread and flush. The writer stays usable (with explicit flushes)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=max(5.0, self.config.max_age_seconds))
            self._thread = None
        self.flush()

    def _flush_periodically(self) -> None:
        interval = min(self.config.max_age_seconds / 2, 1.0)
        while not self._stop.wait(interval):
            self.flush_if_due()

    def _write(self, buffer: _Buffer) -> None:
        path = capture_path(self.config.endpoint_name, self.config.variant_name, buffer.first)
        try:
            self.sink.write(path, b"".join(buffer.lines))
        except Exception:
            log.warning("data capture: could not write %s (%d records dropped)", path, len(buffer.lines), exc_info=True)
            with self._lock:
                self.counters.failed_writes += 1
                self.counters.dropped_records += len(buffer.lines)
            return
        with self._lock:
            self.counters.files_written += 1
            self.counters.written_records += len(buffer.lines)


def open_capture_writer(
    config: CaptureConfig,
    *,
    store: ObjectStore | None = None,
    background: bool = False,
    rng: random.Random | None = None,
    clock: Callable[[], datetime] = _utcnow,
) -> CaptureWriter:
    """A writer for ``config``'s destination: S3 through ``store`` (default: boto3) or a local directory."""
    return CaptureWriter(
        config, sink_for(config.data_capture.destination_s3_uri, store), rng=rng, clock=clock, background=background
    )
