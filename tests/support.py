"""Shared test helpers: event fixtures from events/, handlers loaded by path, the demo bundle."""

from __future__ import annotations

import importlib
import importlib.util
import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sfn_inference.core.imaging import sniff_content_type
from sfn_inference.core.messages import EncodedImage

ROOT = Path(__file__).resolve().parents[1]
BUNDLE_DIR = ROOT / "models" / "digits"


def load_event(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((ROOT / "events" / f"{name}.json").read_text())
    return data


def load_handler(function: str, **fakes: Any) -> Any:
    """Import ``functions/<function>/app.py`` as its own module (every handler is named app).

    With ``fakes`` (``store=...``, ``env=...``), the handler's dependencies are rebuilt by
    its composition root with them, as the root's ``build`` takes them.
    """
    path = ROOT / "functions" / function / "app.py"
    spec = importlib.util.spec_from_file_location(f"{function}_app", path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    if fakes:
        setattr(module, "deps", importlib.import_module(f"sfn_inference.roots.{function}").build(**fakes))  # noqa: B010
    return module


def init_imports(
    function: str, env: dict[str, str], watched: tuple[str, ...], built: str = "app.deps is not None"
) -> list[str]:
    """Which of ``watched`` a function's INIT imports: its handler module imported in a fresh
    interpreter as Lambda imports it, nothing else first, with ``env`` as its only variables
    (``built`` is asserted of the module first)."""
    code = (
        "import sys\n"
        f"sys.path[:0] = [{str(ROOT / 'functions' / function)!r}, {str(ROOT / 'src')!r}]\n"
        "import app\n"
        f"assert {built}\n"
        "import json\n"
        f"print(json.dumps(sorted(m for m in {watched!r} if m in sys.modules)))\n"
    )
    variables = {"PATH": os.environ.get("PATH", ""), "POWERTOOLS_METRICS_NAMESPACE": "SfnInference", **env}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60,
                         cwd=ROOT / "tests", env=variables, check=False)  # fmt: skip
    assert out.returncode == 0, out.stderr
    imported: list[str] = json.loads(out.stdout.strip().splitlines()[-1])
    return imported


def png_image(data: bytes) -> EncodedImage:
    """Bytes as the predictor takes them, with the content type serialize would have sniffed."""
    return EncodedImage(data, sniff_content_type(data[:8]))


@dataclass
class FakeLambdaContext:
    function_name: str = "test-function"
    memory_limit_in_mb: int = 128
    invoked_function_arn: str = "arn:aws:lambda:us-east-1:123456789012:function:test-function"
    aws_request_id: str = "00000000-0000-0000-0000-000000000000"

    def get_remaining_time_in_millis(self) -> int:
        return 30_000
