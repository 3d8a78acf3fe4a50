"""Measure 4: the classify artifact, unzipped, against tensorflow-cpu installed and Lambda's limit.

Built by the packaging module into the bench's temp directory (not ``build/``, which
``make package`` and its tests own), exactly as ``make package`` builds it.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

from bench.common import LAMBDA_UNZIPPED_LIMIT, MAIN_PYTHON, PROBES, ROOT, TRAIN_PYTHON, Settings, ratio
from bench.workspace import Workspace

MIB = 1_048_576
#: The issue's target for the classify artifact, unzipped.
TARGET_BYTES = 100 * MIB


def directory_size(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def classify_artifact(ws: Workspace) -> dict[str, Any]:
    out = ws.root / "build"
    python = str(MAIN_PYTHON if MAIN_PYTHON.exists() else sys.executable)
    try:
        completed = subprocess.run(
            [python, "-m", "sfn_workbench.build", "package", "--out", str(out), "--no-check"],
            cwd=ROOT, capture_output=True, text=True, timeout=600, check=False,
        )  # fmt: skip
    except subprocess.TimeoutExpired:
        return {"status": "error", "reason": "sfn_workbench.build package took over 600 s"}
    artifact = out / "classify"
    if completed.returncode != 0 or not artifact.is_dir():
        reason = (completed.stderr or completed.stdout).strip().splitlines()[-5:]
        status = "pending" if "No module named" in completed.stderr else "error"
        return {"status": status, "reason": " / ".join(reason)[-600:]}
    unzipped = directory_size(artifact)
    parts = sorted(
        ((p.name, p.stat().st_size if p.is_file() else directory_size(p)) for p in artifact.iterdir()),
        key=lambda kv: -kv[1],
    )
    zipped = out / "classify.zip"
    return {
        "status": "ok",
        "unzipped_bytes": unzipped,
        "zipped_bytes": zipped.stat().st_size if zipped.exists() else None,
        "largest_parts_bytes": dict(parts[:8]),
        "packaging_table": completed.stdout.strip(),
        # Every other artifact of the same build, for the HTTP functions' rows (measure 6).
        "others": {
            d.name: {
                "unzipped_bytes": directory_size(d),
                "zipped_bytes": (out / f"{d.name}.zip").stat().st_size if (out / f"{d.name}.zip").exists() else None,
            }
            for d in sorted(out.iterdir())
            if d.is_dir() and d.name != "classify"
        },
    }


def tensorflow_installed() -> dict[str, Any]:
    if not TRAIN_PYTHON.exists():
        return {"status": "skipped", "reason": f"{TRAIN_PYTHON} is absent (`make .venv-train/.installed` creates it)"}
    completed = subprocess.run(
        [str(TRAIN_PYTHON), str(PROBES / "dist_size.py"), "tensorflow-cpu"],
        capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    if completed.returncode != 0:
        return {"status": "error", "reason": completed.stderr.strip()[-600:]}
    data: dict[str, Any] = json.loads(completed.stdout)
    return {
        "status": "ok",
        "total_bytes": data["total_bytes"],
        "distributions": len(data["distributions"]),
        "largest_bytes": dict(list(data["distributions"].items())[:6]),
    }


def measure(ws: Workspace, settings: Settings) -> dict[str, Any]:
    if settings.with_package:
        artifact = classify_artifact(ws)
    else:
        artifact = {"status": "skipped", "reason": "--quick" if settings.quick else "--skip-package"}
    tf = tensorflow_installed()
    size = artifact.get("unzipped_bytes")
    return {
        "status": "ok" if artifact["status"] == "ok" else artifact["status"],
        "unit": "MiB (2^20 bytes), as Lambda's 250 MB limit is 262,144,000 bytes",
        "classify": artifact,
        "tensorflow_cpu": tf,
        "lambda_limit_bytes": LAMBDA_UNZIPPED_LIMIT,
        "target_bytes": TARGET_BYTES,
        "ratios": {
            "classify_over_tensorflow": ratio(size, tf.get("total_bytes")),
            "classify_over_lambda_limit": ratio(size, LAMBDA_UNZIPPED_LIMIT),
            "tensorflow_over_lambda_limit": ratio(tf.get("total_bytes"), LAMBDA_UNZIPPED_LIMIT),
            "classify_over_target": ratio(size, TARGET_BYTES),
        },
    }
