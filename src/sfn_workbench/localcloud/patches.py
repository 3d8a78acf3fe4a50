"""The one place where the local cloud changes moto's internals.

Every patch names the exact attribute it replaces, against the pinned moto
version; each plugin declares its targets in ``PATCH_TARGETS``, and
``tests/unit/workbench/localcloud/test_moto_patches.py`` checks every one of them.
When an upgrade moves or renames a target, :func:`replace` raises at server start
instead of the local cloud silently falling back to moto's stubs.

Patches are layers over moto's original, one per plugin module: installing a
plugin again replaces its own layer (so ``install`` is idempotent), layers of
different plugins compose in install order, and :func:`restore` undoes them.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import moto

#: The moto release these patches were written against (pinned in pyproject.toml).
MOTO_VERSION = "5.2.5"
#: (owner, attribute name): what a plugin declares it patches.
Target = tuple[Any, str]


class MotoPatchError(RuntimeError):
    """A patch target is missing: moto changed under us."""


@dataclass
class _Layer:
    plugin: str
    make: Callable[[Callable[..., Any]], Callable[..., Any]]


@dataclass
class _Patched:
    owner: Any
    name: str
    original: Any
    own: bool  # the original is the owner's own attribute, not inherited
    layers: list[_Layer]


_patched: dict[str, _Patched] = {}
_lock = threading.Lock()


def check_version() -> None:
    if moto.__version__ != MOTO_VERSION:
        raise MotoPatchError(
            f"the local cloud's patches target moto {MOTO_VERSION}, but moto {moto.__version__} is installed: "
            "re-check every patch in sfn_workbench.localcloud before changing the pin"
        )


def check_target(owner: Any, name: str) -> None:
    """Raise unless ``owner.name`` is a callable of the pinned moto."""
    check_version()
    if not callable(getattr(owner, name, None)):
        raise MotoPatchError(f"cannot patch {label(owner, name)}: moto {moto.__version__} has no such callable")


def replace(owner: Any, name: str, new: Callable[..., Any]) -> None:
    """Replace ``owner.name`` with ``new`` (this plugin's layer: later plugins may wrap it)."""
    _install(owner, name, _Layer(new.__module__, lambda _: new))


def wrap(owner: Any, name: str, make: Callable[[Callable[..., Any]], Callable[..., Any]]) -> None:
    """Replace ``owner.name`` with ``make(what is below)``, for patches that delegate to moto's code."""
    _install(owner, name, _Layer(make.__module__, make))


def _install(owner: Any, name: str, layer: _Layer) -> None:
    key = label(owner, name)
    with _lock:
        patched = _patched.get(key)
        if patched is None:
            check_target(owner, name)
            own = name in vars(owner)
            original = vars(owner)[name] if own else getattr(owner, name)
            patched = _patched[key] = _Patched(owner, name, original, own, [])
        patched.layers = [old for old in patched.layers if old.plugin != layer.plugin] + [layer]
        _rebuild(patched)


def _rebuild(patched: _Patched) -> None:
    current = patched.original
    for layer in patched.layers:
        below = current.__get__(None, patched.owner) if isinstance(current, staticmethod) else current
        current = layer.make(below)
    setattr(patched.owner, patched.name, current)


def restore(owner: Any = None, name: str | None = None) -> None:
    """Put moto's original back: for one target, or for every patch when called with no arguments."""
    with _lock:
        keys = list(_patched) if owner is None else [label(owner, str(name))]
        for key in keys:
            patched = _patched.pop(key, None)
            if patched is None:
                continue
            if patched.own:
                setattr(patched.owner, patched.name, patched.original)
            else:
                delattr(patched.owner, patched.name)


def label(owner: Any, name: str) -> str:
    qualname = getattr(owner, "__qualname__", None)
    module = owner.__name__ if qualname is None else owner.__module__
    return f"{module}.{qualname}.{name}" if qualname else f"{module}.{name}"


def applied() -> list[str]:
    """The patches installed in this process (shown by the server at start-up)."""
    return sorted(_patched)
