"""Fixtures for every test; plain helpers live in support.py (importable from tests)."""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

import pytest

from support import BUNDLE_DIR, FakeLambdaContext, load_event

# What the template's Globals give every function: the handlers' metrics (adapters/emf.py) need a namespace.
os.environ.setdefault("POWERTOOLS_METRICS_NAMESPACE", "SfnInference")


@pytest.fixture
def context() -> FakeLambdaContext:
    return FakeLambdaContext()


@pytest.fixture
def event() -> Callable[[str], dict[str, Any]]:
    return load_event


@pytest.fixture(scope="session")
def reference_pngs() -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted((BUNDLE_DIR / "reference").glob("*.png"))}
