"""Where the checkout and the local cloud's state live, found one explicit way.

The workbench works on a checkout (the template, the functions, the models), so it
needs the checkout's root: ``SFN_PROJECT_ROOT`` when set, else the nearest directory
at or above the current one that holds ``infra/template.yaml``. Every command then
works from any directory of the checkout, and the package need not be an editable install.
"""

from __future__ import annotations

import os
from functools import cache
from pathlib import Path

from sfn_inference.core.errors import SfnInferenceError

MARKER = Path("infra") / "template.yaml"
STATE_DIR_NAME = ".sfn-inference"


class ProjectNotFoundError(SfnInferenceError):
    """No sfn-inference checkout at or above the current directory."""


@cache
def project_root(start: Path | None = None) -> Path:
    configured = os.environ.get("SFN_PROJECT_ROOT")
    if configured:
        root = Path(configured).resolve()
        if not (root / MARKER).is_file():
            raise ProjectNotFoundError(f"SFN_PROJECT_ROOT={configured} has no {MARKER}")
        return root
    here = (start or Path.cwd()).resolve()
    for candidate in (here, *here.parents):
        if (candidate / MARKER).is_file():
            return candidate
    raise ProjectNotFoundError(f"no {MARKER} at or above {here}: run from an sfn-inference checkout")


def state_dir() -> Path:
    """The local cloud's state: ``SFN_STATE_DIR``, else ``.sfn-inference/`` in the checkout."""
    configured = os.environ.get("SFN_STATE_DIR")
    return Path(configured).resolve() if configured else project_root() / STATE_DIR_NAME
