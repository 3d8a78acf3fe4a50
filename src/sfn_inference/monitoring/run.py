"""A monitoring run: read a window of capture files, compare them with the baseline, write the report.

Reads ``{source}/yyyy/mm/dd/hh/*.jsonl`` for every hour the window touches (source is one
endpoint's variant, e.g. ``s3://bucket/captures/litert-in-lambda/AllTraffic/``), keeps the
records whose ``inferenceTime`` falls in the window, and writes Model Monitor's files to
``{output}/{endpoint}/yyyy/mm/dd/hh/`` of the window's end: ``statistics.json``,
``constraint_violations.json`` and ``report.json`` (every check with its value).
"""

from __future__ import annotations

import base64
import binascii
import json
import math
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlparse

from sfn_inference.core.bundle import ModelBundle
from sfn_inference.core.errors import ConfigError, SfnInferenceError
from sfn_inference.core.imaging import image_to_tensor
from sfn_inference.core.ports import ObjectStore
from sfn_inference.monitoring.checks import Thresholds, check_dicts, evaluate, violations_document
from sfn_inference.monitoring.statistics import DatasetStats, Observation, from_document, summarise, to_document

IMAGE_ENCODING = "BASE64"


@dataclass(frozen=True)
class Window:
    start: datetime
    end: datetime

    @classmethod
    def ending(cls, end: datetime, minutes: int) -> Window:
        return cls(end - timedelta(minutes=minutes), end)

    def hours(self) -> Iterator[datetime]:
        hour = self.start.replace(minute=0, second=0, microsecond=0)
        while hour < self.end:
            yield hour
            hour += timedelta(hours=1)


@dataclass(frozen=True)
class Location:
    bucket: str
    prefix: str

    @classmethod
    def parse(cls, uri: str, what: str) -> Location:
        parsed = urlparse(uri)
        if parsed.scheme != "s3" or not parsed.netloc:
            raise ConfigError(f"{what} must be s3://bucket/prefix, got {uri!r}")
        prefix = parsed.path.lstrip("/")
        return cls(parsed.netloc, prefix if not prefix or prefix.endswith("/") else prefix + "/")


def observe(record: Any, bundle: ModelBundle) -> Observation:
    """One capture record as the monitor sees it; ValueError (with why) when it cannot be read."""
    try:
        sides = record["captureData"]
        output = sides["endpointOutput"]
        text = output["data"] if output["encoding"] != IMAGE_ENCODING else base64.b64decode(output["data"]).decode()
        probabilities = [float(p) for p in json.loads(text)]
    except (KeyError, TypeError, ValueError, binascii.Error) as exc:
        raise ValueError(f"no readable endpointOutput: {exc}") from None
    if len(probabilities) != len(bundle.labels) or not all(math.isfinite(p) for p in probabilities):
        raise ValueError(f"endpointOutput has {len(probabilities)} values for {len(bundle.labels)} labels")
    best = max(range(len(probabilities)), key=probabilities.__getitem__)
    seen = Observation(bundle.labels[best], probabilities[best])
    given = sides.get("endpointInput")
    if bundle.metadata.kind == "image" and isinstance(given, dict) and given.get("encoding") == IMAGE_ENCODING:
        try:
            pixels = image_to_tensor(base64.b64decode(given["data"]), bundle.preprocessing)
        except (SfnInferenceError, binascii.Error, KeyError, TypeError):
            return seen  # the prediction still counts; an unreadable input has no statistics
        seen.input_mean, seen.input_std = float(pixels.mean()), float(pixels.std())
    return seen


def read_window(
    store: ObjectStore, source: Location, window: Window, bundle: ModelBundle
) -> tuple[list[Observation], list[str]]:
    """The window's observations, and one line per record that could not be read (never dropped silently)."""
    observations: list[Observation] = []
    unreadable: list[str] = []
    for hour in window.hours():
        for listed in store.list_keys(source.bucket, f"{source.prefix}{hour:%Y/%m/%d/%H}/"):
            if not listed.key.endswith(".jsonl"):
                continue
            for number, line in enumerate(store.get(source.bucket, listed.key).splitlines(), 1):
                if not line.strip():
                    continue
                try:
                    record = json.loads(line)
                    when = datetime.fromisoformat(record["eventMetadata"]["inferenceTime"].replace("Z", "+00:00"))
                    if window.start <= when < window.end:
                        observations.append(observe(record, bundle))
                except (ValueError, KeyError, TypeError, AttributeError) as exc:
                    unreadable.append(f"{listed.key}:{number}: {exc}")
    return observations, unreadable


def monitor(
    store: ObjectStore,
    *,
    source: Location,
    output: Location,
    endpoint: str,
    window: Window,
    bundle: ModelBundle,
    baseline: DatasetStats,
    limits: Thresholds,
) -> dict[str, Any]:
    """Run every check on the window and write the report; the report's ``status`` says the outcome:
    ``no data``, ``insufficient data`` (fewer than ``min_item_count``), ``ok`` or ``violations``."""
    observations, unreadable = read_window(store, source, window, bundle)
    stats = summarise(observations)
    checks = evaluate(stats, baseline, limits) if len(observations) >= limits.min_item_count else []
    if not observations:
        status = "no data"
    elif len(observations) < limits.min_item_count:
        status = "insufficient data"
    else:
        status = "violations" if any(c.violated for c in checks) else "ok"
    prefix = f"{output.prefix}{endpoint}/{window.end:%Y/%m/%d/%H}/"
    report = {
        "status": status,
        "endpoint": endpoint,
        "window": {"start": _iso(window.start), "end": _iso(window.end)},
        "item_count": len(observations),
        "unreadable_records": len(unreadable),
        "unreadable_examples": unreadable[:10],
        "checks": check_dicts(checks),
        "violations": violations_document(checks)["violations"],
        "report_prefix": f"s3://{output.bucket}/{prefix}",
    }
    files = {
        "statistics.json": to_document(stats),
        "constraint_violations.json": violations_document(checks),
        "report.json": report,
    }
    for name, document in files.items():
        store.put(output.bucket, prefix + name, json.dumps(document, indent=2).encode(), "application/json")
    return report


def baseline_of(bundle: ModelBundle) -> tuple[DatasetStats, dict[str, Any]]:
    """The bundle's baseline: ``monitoring/statistics.json`` and ``monitoring/constraints.json``."""
    folder = bundle.path / "monitoring"
    try:
        statistics = json.loads((folder / "statistics.json").read_text())
        constraints: dict[str, Any] = json.loads((folder / "constraints.json").read_text())
    except FileNotFoundError as exc:
        raise ConfigError(f"{bundle.path} has no monitoring baseline ({exc.filename}): run make model") from None
    return from_document(statistics), constraints


def _iso(when: datetime) -> str:
    return when.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
