"""The one place where the local cloud patches moto's internals.

Every patch names the exact attribute it replaces, against the pinned moto
version. When an upgrade moves or renames one of them, :func:`replace` raises at
server start (and ``tests/unit/test_moto_patches.py`` fails) instead of the
local cloud silently falling back to moto's stubs.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import moto

#: The moto release these patches were written against (pinned in pyproject.toml).
MOTO_VERSION = "5.2.5"

_applied: dict[str, Any] = {}


class MotoPatchError(RuntimeError):
    """A patch target is missing: moto changed under us."""


def check_version() -> None:
    if moto.__version__ != MOTO_VERSION:
        raise MotoPatchError(
            f"the local cloud's patches target moto {MOTO_VERSION}, but moto {moto.__version__} is installed: "
            "re-check every patch in sfn_inference.localcloud before changing the pin"
        )


def replace(owner: Any, name: str, new: Callable[..., Any]) -> Callable[..., Any]:
    """Replace ``owner.name`` with ``new`` and return the original (which ``new`` may call)."""
    check_version()
    label = _label(owner, name)
    original = getattr(owner, name, None)
    if original is None or not callable(original):
        raise MotoPatchError(f"cannot patch {label}: moto {moto.__version__} has no such callable")
    if label not in _applied:
        _applied[label] = original
    setattr(owner, name, new)
    return _applied[label]  # type: ignore[no-any-return]


def wrap(owner: Any, name: str, make: Callable[[Callable[..., Any]], Callable[..., Any]]) -> None:
    """Replace ``owner.name`` with ``make(original)``: for patches that delegate to moto's own code."""
    check_version()
    original = getattr(owner, name, None)
    if original is None or not callable(original):
        raise MotoPatchError(f"cannot patch {owner!r}.{name}: moto {moto.__version__} has no such callable")
    replace(owner, name, make(original))  # wraps what is there now: patches compose in install order


def _label(owner: Any, name: str) -> str:
    qualname = getattr(owner, "__qualname__", None)
    module = owner.__name__ if qualname is None else owner.__module__
    return f"{module}.{qualname}.{name}" if qualname else f"{module}.{name}"


def applied() -> list[str]:
    """The patches installed in this process (shown by the server at start-up)."""
    return sorted(_applied)
