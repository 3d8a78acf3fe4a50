"""The layout is the architecture: what ships never imports the workbench, and the core does no I/O."""

from __future__ import annotations

import ast
from pathlib import Path

import sfn_inference
import sfn_workbench

SHIPPED = Path(sfn_inference.__file__).parent
CORE = SHIPPED / "core"
#: The core reaches the outside world only through its ports.
IO_MODULES = {"boto3", "botocore", "urllib.request", "http", "socket", "requests", "ai_edge_litert", "onnxruntime"}


def imported(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def test_the_shipped_package_never_imports_the_workbench() -> None:
    offenders = {
        str(path.relative_to(SHIPPED)): sorted(n for n in imported(path) if n.split(".")[0] == "sfn_workbench")
        for path in SHIPPED.rglob("*.py")
    }
    assert {k: v for k, v in offenders.items() if v} == {}


def test_the_core_does_no_io_of_its_own() -> None:
    offenders = {
        str(path.relative_to(CORE)): sorted(
            n for n in imported(path) if n in IO_MODULES or n.split(".")[0] in IO_MODULES
        )
        for path in CORE.rglob("*.py")
    }
    assert {k: v for k, v in offenders.items() if v} == {}


def test_handlers_import_only_the_shipped_package() -> None:
    root = Path(sfn_workbench.__file__).parents[2]
    for app in (root / "functions").glob("*/app.py"):
        assert not {n for n in imported(app) if n.startswith("sfn_workbench")}, app
