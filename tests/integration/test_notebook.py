"""The captured-inferences notebook, executed end to end on captures of real LiteRT predictions."""

from __future__ import annotations

import json
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import nbclient
import nbformat
import pytest

from sfn_inference.adapters.litert import LiteRTImagePredictor
from sfn_inference.adapters.memory import InMemoryObjectStore
from sfn_inference.core.bundle import ModelBundle
from sfn_inference.datacapture.writer import capture_path
from sfn_inference.monitoring.checks import Thresholds
from sfn_inference.monitoring.run import Location, Window, baseline_of, monitor
from sfn_workbench.capture_reader import capture_record
from support import png_image

ROOT = Path(__file__).resolve().parents[2]
BUNDLE_DIR = ROOT / "models" / "digits"
NOTEBOOK = ROOT / "notebooks" / "captured_inferences.ipynb"
#: The notebook's plots: confidence, over time, per label, low-confidence share, image grid, drift, monitoring.
PLOTS = 7


@pytest.fixture(scope="module")
def capture_dir(tmp_path_factory: pytest.TempPathFactory, reference_pngs: dict[str, bytes]) -> Path:
    """Data capture as SageMaker would write it for the reference PNGs, over three hours and two variants."""
    root = tmp_path_factory.mktemp("datacapture")
    images = list(reference_pngs.values())
    results = LiteRTImagePredictor(ModelBundle(BUNDLE_DIR), num_threads=1).predict([png_image(i) for i in images])
    predictions = [r for r in results if isinstance(r, list)]
    assert len(predictions) == len(images)
    start = datetime(2026, 11, 22, 9, 12, tzinfo=UTC)
    for hour in range(3):
        for variant in ("AllTraffic", "Shadow"):
            flushed = start + timedelta(hours=hour)
            lines = [
                json.dumps(capture_record(flushed + timedelta(seconds=3 * i), input_data=image, output=probs))
                for i, (image, probs) in enumerate(zip(images, predictions, strict=True))
            ]
            path = root / capture_path("digits-endpoint", variant, flushed)
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text("\n".join(lines) + "\n")
    # A file an interrupted writer left behind: one good record, then half of the next.
    cut = capture_record(start, input_data=images[0], output=predictions[0])
    path = root / capture_path("digits-endpoint", "AllTraffic", start)
    path.write_text(json.dumps(cut) + "\n" + json.dumps(cut)[:200])
    return root


@pytest.fixture(scope="module")
def monitoring_dir(tmp_path_factory: pytest.TempPathFactory, capture_dir: Path) -> Path:
    """The drift monitor's real reports for the three hours of captures, as it writes them."""
    store = InMemoryObjectStore()
    for path in capture_dir.rglob("*.jsonl"):
        store.put("b", f"captures/{path.relative_to(capture_dir)}", path.read_bytes(), "application/jsonlines")
    bundle = ModelBundle(BUNDLE_DIR)
    baseline, _ = baseline_of(bundle)
    for hour in range(3):
        end = datetime(2026, 11, 22, 10 + hour, 0, tzinfo=UTC)
        source, output = Location("b", "captures/digits-endpoint/AllTraffic/"), Location("b", "monitoring/")
        monitor(store, source=source, output=output, endpoint="digits-endpoint", window=Window.ending(end, 60),
                bundle=bundle, baseline=baseline, limits=Thresholds(min_item_count=10))  # fmt: skip
    root = tmp_path_factory.mktemp("monitoring")
    for (_, key), (body, _) in store.objects.items():
        if key.startswith("monitoring/"):
            (root / key).parent.mkdir(parents=True, exist_ok=True)
            (root / key).write_bytes(body)
    return root / "monitoring"


@pytest.fixture
def kernel_name(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """A kernelspec that runs this interpreter: a 'python3' elsewhere on the Jupyter path may be another Python."""
    spec = tmp_path / "jupyter" / "kernels" / "sfn-inference-test"
    spec.mkdir(parents=True)
    argv = [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"]
    (spec / "kernel.json").write_text(json.dumps({"argv": argv, "display_name": "test", "language": "python"}))
    monkeypatch.setenv("JUPYTER_PATH", str(tmp_path / "jupyter"))
    return "sfn-inference-test"


def test_the_notebook_runs_and_plots(
    capture_dir: Path, monitoring_dir: Path, kernel_name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SFN_CAPTURE_SOURCE", str(capture_dir))
    monkeypatch.setenv("SFN_MONITORING_SOURCE", str(monitoring_dir))
    monkeypatch.delenv("MPLBACKEND", raising=False)  # an Agg backend from the environment would hide the plots
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    nb = nbformat.read(NOTEBOOK, as_version=4)  # type: ignore[no-untyped-call]  # nbformat has no types
    nb.cells.append(nbformat.v4.new_code_cell("import sys; print(sys.executable)"))  # type: ignore[no-untyped-call]

    nbclient.NotebookClient(
        nb, kernel_name=kernel_name, timeout=120, resources={"metadata": {"path": str(NOTEBOOK.parent)}}
    ).execute()

    outputs = [o for cell in nb.cells if cell.cell_type == "code" for o in cell.outputs]
    assert not [o for o in outputs if o.output_type == "error"]
    images = [o for o in outputs if o.output_type == "display_data" and "image/png" in o.data]
    assert len(images) == PLOTS
    text = "".join(o.get("text", "") for o in outputs if o.output_type == "stream" and o.name == "stdout")
    pngs = len(list((BUNDLE_DIR / "reference").glob("*.png")))
    assert f"{3 * 2 * pngs + 1} captured inferences, {3 * 2 * pngs + 1} with output" in text
    assert "1 lines skipped" in text
    assert len(list(monitoring_dir.rglob("report.json"))) == 3
    html = [o.data["text/html"] for o in outputs if "text/html" in o.get("data", {})]
    assert any("truncated last line" in table for table in html), "the skipped-line report is not shown"
    assert text.strip().splitlines()[-1] == sys.executable
