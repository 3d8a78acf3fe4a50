"""`make bench` in --quick mode: one repetition, tiny counts, every section present.

Checks the harness works end to end (fresh processes, a real local cloud over HTTP),
not the figures: benchmarks report, they do not pass or fail.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SECTIONS = (
    "cold_start",
    "warm",
    "pipeline",
    "batch_keys",
    "server_cost",
    "package",
    "startup",
    "http",
    "models",
    "reliability",
)


def test_quick_bench_writes_every_section(tmp_path) -> None:
    completed = subprocess.run(
        # --skip-tf: TensorFlow's cold start (about 3 s a run) is the bench's peer, not its harness.
        [sys.executable, "-m", "bench.run", "--quick", "--skip-tf", "--out-dir", str(tmp_path)],
        cwd=ROOT, capture_output=True, text=True, timeout=240, check=False,
    )  # fmt: skip
    assert completed.returncode == 0, completed.stderr[-3000:]
    results = json.loads((tmp_path / "latest.json").read_text())
    assert results["quick"] is True
    assert {"cpu_model", "cores", "python"} <= results["machine"].keys()
    for section in SECTIONS:
        status = results[section]["status"]
        # The package build, the 10,000-key batch and the server-cost clouds are skipped in --quick;
        # nothing may have failed.
        assert status in {"ok", "skipped", "pending"}, f"{section}: {results[section].get('reason')}"
    assert results["cold_start"]["routes"]["classify"]["phases"]["total"]["median"] > 0
    assert results["warm"]["in_process"]["t1"]["per_image"]["raw_b1"]["median"] > 0
    assert results["warm"]["lambda_path"]["t1_lean"]["report_duration_per_image"]["b1"]["median"] > 0
    assert results["startup"]["teardown"]["workers"] >= 1, "the main cloud stops with its warm workers"
    assert results["pipeline"]["per_image_executions"]["executions_per_s"]["median"] > 0
    assert results["startup"]["ready"]["median"] > 0
    assert results["http"]["round_trip"]["digits"]["ratio"] > 0
    assert results["http"]["cold_start"]["fashion"]["ratio_over_bare"] > 0
    models = results["models"]
    for function in ("forda", "iris"):
        assert models["cold_start"][function]["handler"]["total"]["median"] > 0
        assert "PIL" in models["cold_start"][function]["not_imported"]
    assert models["warm"]["forda"]["n64"]["handler"]["median"] > models["warm"]["forda"]["n64"]["raw"]["median"] > 0
    assert models["warm"]["iris"]["get"]["handler"]["median"] > 0
    assert models["sizes"]["status"] == "skipped"  # --quick builds no artifacts
    assert results["targets"] and all(t["met"] in (True, False, None) for t in results["targets"])
    table = (tmp_path / "latest.md").read_text()
    assert "| measure | figure |" in table
    assert results["machine"]["cpu_model"] in table
    assert "### The FordA and Iris functions (issue 13)" in table
    assert "opt-in lean runtime client" in table
    assert "| measure | figure |" in completed.stdout
