"""filter's dependencies: its settings (the default confidence threshold)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from sfn_inference.core.settings import FilterConfig


@dataclass
class Filter:
    settings: FilterConfig


def build(env: Mapping[str, str] | None = None) -> Filter:
    return Filter(FilterConfig.from_env(env))
