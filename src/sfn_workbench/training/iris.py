"""Train the iris bundle: ``python -m sfn_workbench.training.iris --out models/iris``.

Runs in the ``train`` environment (scikit-learn, skl2onnx, onnxruntime). The seed's
random forest on scikit-learn's bundled iris data, exported to ONNX with a plain
probability tensor (no ZipMap) and checked against onnxruntime on all 150 rows.
"""

from __future__ import annotations

import json
import shutil
import time
from pathlib import Path
from typing import Annotated, Any

import numpy as np
import typer

from sfn_workbench.training.common import label_distribution

NAME = "iris"
#: Sepal length, sepal width, petal length, petal width, in cm.
FEATURE_NAMES = ["sl", "sw", "pl", "pw"]
LABELS = ["setosa", "versicolor", "virginica"]
INPUT_NAME = "float_input"
TEST_SIZE = 0.33
SEED = 42
#: ONNX opsets: ai.onnx.ml 3 is the TreeEnsembleClassifier that onnxruntime has long supported.
TARGET_OPSET = {"": 18, "ai.onnx.ml": 3}
#: Tolerance between scikit-learn's and onnxruntime's probabilities.
ATOL = 1e-5


def reference_rows(
    features: np.ndarray, labels: np.ndarray, predicted: np.ndarray, probabilities: np.ndarray
) -> list[dict[str, Any]]:
    """``reference/rows.json``: each row's features, true label, and scikit-learn's answer."""
    return [
        {
            "features": [float(v) for v in row],
            "label": LABELS[int(y)],
            "sklearn_label": LABELS[int(p)],
            "sklearn_probabilities": [round(float(v), 8) for v in probs],
        }
        for row, y, p, probs in zip(features, labels, predicted, probabilities, strict=True)
    ]


def to_onnx(clf: Any) -> bytes:
    """The classifier as ONNX: ``float_input`` [None, 4] float32 -> ``label``, ``probabilities`` [None, 3]."""
    from skl2onnx import convert_sklearn  # type: ignore[import-untyped,import-not-found,unused-ignore]  # noqa: PLC0415
    from skl2onnx.common.data_types import (  # type: ignore[import-untyped,import-not-found,unused-ignore]  # noqa: PLC0415
        FloatTensorType,
    )

    onx = convert_sklearn(
        clf,
        name=NAME,  # the graph's name; skl2onnx would pick a random one
        initial_types=[(INPUT_NAME, FloatTensorType([None, len(FEATURE_NAMES)]))],
        options={id(clf): {"zipmap": False}},
        target_opset=TARGET_OPSET,
    )
    model: bytes = onx.SerializeToString()
    return model


def onnx_predict(model_path: Path, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """onnxruntime's ``(labels, probabilities)`` for float32 rows ``x``."""
    import onnxruntime as ort  # type: ignore[import-untyped,import-not-found,unused-ignore]  # noqa: PLC0415

    session = ort.InferenceSession(str(model_path), providers=["CPUExecutionProvider"])
    label, probabilities = session.run(["label", "probabilities"], {INPUT_NAME: x.astype(np.float32)})
    return np.asarray(label), np.asarray(probabilities)


def main(out: Path, n_estimators: int = 100) -> dict[str, Any]:
    """Train, export and write the bundle to ``out``; returns the run's figures."""
    import onnx  # type: ignore[import-untyped,import-not-found,unused-ignore]  # noqa: PLC0415
    import onnxruntime  # type: ignore[import-untyped,import-not-found,unused-ignore]  # noqa: PLC0415
    import skl2onnx  # type: ignore[import-untyped,import-not-found,unused-ignore]  # noqa: PLC0415
    import sklearn  # noqa: PLC0415
    from sklearn.datasets import load_iris  # noqa: PLC0415
    from sklearn.ensemble import RandomForestClassifier  # noqa: PLC0415
    from sklearn.model_selection import train_test_split  # noqa: PLC0415

    started = time.monotonic()
    iris = load_iris()
    x, y = np.asarray(iris.data), np.asarray(iris.target, dtype=np.int64)
    if list(iris.target_names) != LABELS:
        raise ValueError(f"iris classes are {list(iris.target_names)}, want {LABELS}")
    x_train, x_test, y_train, y_test = train_test_split(x, y, test_size=TEST_SIZE, random_state=SEED)
    clf = RandomForestClassifier(n_estimators=n_estimators, random_state=SEED).fit(x_train, y_train)
    trained = time.monotonic()
    sk_labels, sk_probs = clf.predict(x), clf.predict_proba(x)

    if out.exists():
        shutil.rmtree(out)
    (out / "reference").mkdir(parents=True)
    model_path = out / "model.onnx"
    model_path.write_bytes(to_onnx(clf))
    onnx.checker.check_model(str(model_path))
    (out / "labels.txt").write_text("\n".join(LABELS) + "\n")

    ort_labels, ort_probs = onnx_predict(model_path, x)
    label_mismatches = np.flatnonzero(ort_labels != sk_labels).tolist()
    prob_mismatches = np.flatnonzero(np.abs(ort_probs - sk_probs).max(axis=1) > ATOL).tolist()
    if label_mismatches or prob_mismatches:
        raise RuntimeError(f"onnxruntime differs from scikit-learn: labels {label_mismatches}, probs {prob_mismatches}")
    for n in (1, 8):  # the batch dimension is free
        if not np.allclose(onnx_predict(model_path, x[:n])[1], ort_probs[:n], atol=ATOL, rtol=0):
            raise RuntimeError(f"onnxruntime at batch {n} disagrees with a full batch")
    rows = reference_rows(x, y, sk_labels, sk_probs)
    (out / "reference" / "rows.json").write_text("[\n" + ",\n".join(json.dumps(r) for r in rows) + "\n]\n")

    _, test_probs = onnx_predict(model_path, x_test)
    onnx_acc = float(np.mean(test_probs.argmax(1) == y_test))
    metadata = {
        "name": NAME,
        "kind": "tabular",
        "runtime": "onnxruntime",
        "model_file": model_path.name,
        "framework": (
            f"scikit-learn {sklearn.__version__} RandomForestClassifier -> ONNX "
            f"(skl2onnx {skl2onnx.__version__}, opset {TARGET_OPSET['']}, ai.onnx.ml {TARGET_OPSET['ai.onnx.ml']})"
        ),
        "input_shape": [1, len(FEATURE_NAMES)],
        "input_dtype": "float32",
        "output": "probabilities",
        "feature_names": FEATURE_NAMES,
        "dataset": {
            "name": "iris",
            "source": (
                "sklearn.datasets.load_iris (Fisher 1936, UCI); features in cm: sepal length, sepal width, "
                f"petal length, petal width; train_test_split(test_size={TEST_SIZE}, random_state={SEED}); "
                f"RandomForestClassifier(n_estimators={n_estimators}, random_state={SEED})"
            ),
            "train_size": len(y_train),
            "test_size": len(y_test),
            "label_distribution": label_distribution(y_train, LABELS),
        },
        "test_accuracy": round(onnx_acc, 6),
    }
    (out / "metadata.json").write_text(json.dumps(metadata, indent=2) + "\n")
    return {
        "sklearn_test_accuracy": float(clf.score(x_test, y_test)),
        "onnx_test_accuracy": onnx_acc,
        "max_abs_diff_onnx_sklearn": float(np.abs(ort_probs - sk_probs).max()),
        "onnxruntime": onnxruntime.__version__,
        "model_bytes": model_path.stat().st_size,
        "train_seconds": round(trained - started, 2),
        "total_seconds": round(time.monotonic() - started, 2),
    }


app = typer.Typer(add_completion=False)


@app.command()
def cli(
    out: Annotated[Path, typer.Option(help="bundle directory to (re)write")] = Path("models") / NAME,
    n_estimators: Annotated[int, typer.Option(min=1, help="trees in the forest")] = 100,
) -> None:
    """Train the iris random forest, write the bundle to OUT and print the run's figures as JSON."""
    typer.echo(json.dumps(main(out, n_estimators), indent=2))


if __name__ == "__main__":
    app()
