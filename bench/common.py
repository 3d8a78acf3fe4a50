"""What every measure shares: interpreters, summaries of repeated runs, measured child processes."""

from __future__ import annotations

import os
import statistics
import subprocess
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
PROBES = Path(__file__).resolve().parent / "probes"
MAIN_PYTHON = ROOT / ".venv" / "bin" / "python"
TRAIN_PYTHON = ROOT / ".venv-train" / "bin" / "python"
BUNDLE = ROOT / "models" / "digits"
REFERENCE = BUNDLE / "reference"
#: The batch mode's default batch size (the template's BatchSize parameter).
BATCH_SIZE = 16
#: Lambda's limit on a .zip function, unzipped (function and layers): 250 MiB.
LAMBDA_UNZIPPED_LIMIT = 262_144_000
#: The filter's default threshold: only images above it run all three states and SUCCEED.
CONFIDENT = 0.93


@dataclass(frozen=True)
class Settings:
    """How much to repeat. ``--quick`` is for the smoke test: one repetition, tiny counts."""

    quick: bool
    repeats: int  # runs behind each median
    block_s: float  # minimum duration of one timed block of warm calls
    executions: int  # executions per throughput run
    throughput_runs: int
    batch_images: int  # objects under the prefix of one batch run
    startup_cycles: int  # fresh local clouds for the start-up median
    with_tf: bool
    with_package: bool

    @classmethod
    def make(cls, quick: bool, skip_tf: bool = False, skip_package: bool = False) -> Settings:
        with_tf = TRAIN_PYTHON.exists() and not skip_tf
        if quick:
            return cls(True, 1, 0.05, 4, 1, 16, 1, with_tf, False)
        return cls(False, 5, 0.25, 40, 3, 320, 5, with_tf, not skip_package)


def summary(samples: Sequence[float], unit: str) -> dict[str, Any]:
    """Median, min and max of repeated runs; the median is what ratios are taken of."""
    if not samples:
        return {"median": None, "min": None, "max": None, "n": 0, "unit": unit}
    return {
        "median": statistics.median(samples),
        "min": min(samples),
        "max": max(samples),
        "n": len(samples),
        "unit": unit,
    }


def ratio(numerator: float | None, denominator: float | None) -> float | None:
    if numerator is None or not denominator:
        return None
    return numerator / denominator


def confident_references() -> list[Path]:
    """Reference PNGs the model labels above the filter's threshold, as in predictions.json."""
    import json

    expected: dict[str, list[float]] = json.loads((REFERENCE / "predictions.json").read_text())
    return [REFERENCE / name for name, probs in sorted(expected.items()) if max(probs) >= CONFIDENT]


@dataclass(frozen=True)
class Measured:
    returncode: int
    wall_s: float
    maxrss_mb: float  # the child's own peak RSS, from wait4: not shared with other children


def run_measured(
    command: Sequence[str],
    *,
    env: Mapping[str, str],
    cwd: Path,
    log: Path,
    timeout_s: float,
) -> tuple[Measured, float]:
    """Run one fresh child; return its exit, wall time and peak RSS, and the monotonic spawn time.

    ``os.wait4`` reports the peak RSS of exactly this child, where RUSAGE_CHILDREN
    would give the maximum over every child this process has ever reaped.
    """
    with log.open("ab") as out:
        spawned = time.monotonic()
        process = subprocess.Popen(
            list(command), env=dict(env), cwd=cwd, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT
        )
        deadline = spawned + timeout_s
        while True:
            pid, status, usage = os.wait4(process.pid, os.WNOHANG)
            if pid:
                break
            if time.monotonic() > deadline:
                process.kill()
                pid, status, usage = os.wait4(process.pid, 0)
                break
            time.sleep(0.005)
        wall = time.monotonic() - spawned
        process.returncode = os.waitstatus_to_exitcode(status)  # reaped here: keep Popen from waiting again
    return Measured(process.returncode, wall, usage.ru_maxrss / 1024), spawned


def base_env() -> dict[str, str]:
    """A child's environment without the parent's Python settings leaking into it."""
    keep = ("PATH", "HOME", "LANG", "TMPDIR")
    return {k: os.environ[k] for k in keep if k in os.environ}


def tail(path: Path, lines: int = 20) -> str:
    if not path.exists():
        return ""
    return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
