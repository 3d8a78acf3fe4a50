"""The classify artifact, built with its real dependencies, classifies from a bare unzipped directory.

Built for the Python and machine running the tests (so it can run here), through
the same code path `make package` and `sam build` use for python3.12 on Lambda.
"""

from __future__ import annotations

import base64
import json
import platform
import re
import sys
import zipfile
from pathlib import Path
from typing import Any

import pytest

import sfn_inference
from sfn_workbench import build as packaging
from support import BUNDLE_DIR

ARCH = {"x86_64": "x86_64", "amd64": "x86_64", "aarch64": "arm64", "arm64": "arm64"}.get(platform.machine().lower())

pytestmark = pytest.mark.skipif(
    sys.platform != "linux" or ARCH is None, reason="manylinux wheels run on Linux x86_64/aarch64 only"
)


@pytest.fixture(scope="module")
def unzipped(tmp_path_factory: pytest.TempPathFactory) -> Path:
    build = tmp_path_factory.mktemp("build")
    assert ARCH is not None
    artifact = packaging.build_function(
        "classify",
        build / "classify",
        with_deps=True,
        python_version=f"{sys.version_info.major}.{sys.version_info.minor}",
        arch=ARCH,
    )
    archive = packaging.zip_artifact(artifact, build / "classify.zip")
    target = tmp_path_factory.mktemp("task-root")  # a fresh directory, as Lambda unpacks into /var/task
    with zipfile.ZipFile(archive) as z:
        z.extractall(target)
    return target


def inline_payload(name: str) -> dict[str, Any]:
    data = (BUNDLE_DIR / "reference" / name).read_bytes()
    return {
        "s3_bucket": "sfn-inference-images",
        "s3_key": f"incoming/{name}",
        "content_type": "image/png",
        "transport": "inline",
        "image_data": base64.b64encode(data).decode(),
        "size_bytes": len(data),
    }


def test_unzipped_classify_artifact_classifies_every_reference_png(unzipped: Path) -> None:
    expected: dict[str, list[float]] = json.loads((BUNDLE_DIR / "reference" / "predictions.json").read_text())
    labels = (BUNDLE_DIR / "labels.txt").read_text().split()
    names = sorted(expected)
    run = packaging.invoke_artifact(
        unzipped,
        [inline_payload(name) for name in names],
        env={"BACKEND": "litert", "MODEL_DIR": "models/digits", "LITERT_NUM_THREADS": "1"},
    )
    assert run["python"] == [sys.version_info.major, sys.version_info.minor]
    for name, result in zip(names, run["results"], strict=True):
        assert "errorType" not in result, f"{name}: {result}"
        best = max(range(len(labels)), key=expected[name].__getitem__)
        assert result["label"] == labels[best], name
        assert result["confidence"] == pytest.approx(expected[name][best], abs=1e-3), name
        assert result["inferences"] == pytest.approx(expected[name], abs=1e-3), name
    assert run["results"][names.index("7_00017.png")]["label"] == "7"

    # Everything but boto3 came from the artifact, as it would in Lambda; plain PNGs need no Pillow.
    origins = run["origins"]
    for module in ("sfn_inference", "numpy", "pyspng", "pydantic", "aws_lambda_powertools", "ai_edge_litert"):
        assert origins[module] and Path(origins[module]).resolve().is_relative_to(unzipped.resolve()), module
    assert origins["PIL"] is None or Path(origins["PIL"]).resolve().is_relative_to(unzipped.resolve())


def test_artifact_ships_only_what_lambda_needs(unzipped: Path) -> None:
    top = {p.name for p in unzipped.iterdir()}
    assert {"app.py", "sfn_inference", "models", "numpy", "PIL", "ai_edge_litert", "pydantic"} <= top
    assert not {"boto3", "botocore", "s3transfer", "bin"} & top  # the Lambda runtime provides boto3
    assert (unzipped / "models" / "digits" / "model.tflite").is_file()
    assert "sfn_workbench" not in top, "the workbench never ships"
    shipped = {p.relative_to(unzipped / "sfn_inference") for p in (unzipped / "sfn_inference").rglob("*.py")}
    source = Path(sfn_inference.__file__).parent
    assert shipped == {p.relative_to(source) for p in source.rglob("*.py")}, "the package is copied whole"
    importing = re.compile(r"^\s*(from|import)\s+sfn_workbench\b", re.MULTILINE)
    assert not [p for p in unzipped.rglob("*.py") if importing.search(p.read_text(errors="replace"))]
    assert not [p for p in unzipped.rglob("*") if p.name == "__pycache__" or p.suffix in {".pyi", ".pyc", ".h"}]
    assert not (unzipped / "ai_edge_litert" / "libLiteRtWebGpuAccelerator.so").exists()
    assert packaging.directory_size(unzipped) < packaging.MAX_UNZIPPED


# --- the series and tabular functions: each ships its own runtime only ------------------------------


@pytest.fixture(scope="module")
def model_artifacts(tmp_path_factory: pytest.TempPathFactory) -> dict[str, packaging.Artifact]:
    build = tmp_path_factory.mktemp("model-functions")
    assert ARCH is not None
    built = {}
    for function in packaging.MODEL_FUNCTIONS:
        directory = packaging.build_function(
            function,
            build / function,
            with_deps=True,
            python_version=f"{sys.version_info.major}.{sys.version_info.minor}",
            arch=ARCH,
        )
        archive = packaging.zip_artifact(directory, build / f"{function}.zip")
        built[function] = packaging.Artifact(
            function, directory, archive, packaging.directory_size(directory), archive.stat().st_size
        )
    return built


def test_forda_ships_litert_and_iris_onnxruntime_neither_the_other_nor_the_training_stack(model_artifacts) -> None:
    tops = {name: {p.name for p in a.directory.iterdir()} for name, a in model_artifacts.items()}
    assert {"ai_edge_litert", "numpy", "models"} <= tops["forda"]
    assert {"onnxruntime", "numpy", "models"} <= tops["iris"]
    assert "onnxruntime" not in tops["forda"] and "ai_edge_litert" not in tops["iris"]
    for name, top in tops.items():
        assert not {"PIL", "sklearn", "scipy", "tensorflow", "joblib", "sympy", "mpmath"} & top, name
        assert model_artifacts[name].problems == [], name
        assert model_artifacts[name].unzipped < packaging.BUDGET_UNZIPPED == 100 * 1_048_576
    assert (model_artifacts["forda"].directory / "models" / "forda" / "model.tflite").is_file()
    assert (model_artifacts["iris"].directory / "models" / "iris" / "model.onnx").is_file()
    assert not (model_artifacts["iris"].directory / "models" / "digits").exists()


def test_forda_and_iris_answer_their_seeds_from_bare_artifacts(model_artifacts) -> None:
    """The checks `make package` runs: the reference series, the seed's Iris sample, captures,
    and neither artifact able to import the runtime (or Pillow) it does not ship."""
    lines = packaging.check_model_functions({n: a.directory for n, a in model_artifacts.items()}, sys.executable)
    assert [line.split()[0] for line in lines] == ["forda", "iris"]


def test_an_artifact_holding_what_it_must_not_is_a_problem(model_artifacts, tmp_path: Path) -> None:
    iris = model_artifacts["iris"]
    (tmp_path / "sklearn").mkdir()
    fake = packaging.Artifact("iris", tmp_path, iris.zip_path, 101 * 1_048_576, iris.zipped)
    assert fake.problems == ["holds sklearn, which it must not", "unzipped 101.0 MB > the project's budget of 100.0 MB"]
