"""Train the demo model and write a bundle: ``python -m sfn_workbench.training.train``.

Runs in the ``train`` extra (TensorFlow). Inputs are read back from PNGs through
the serving preprocessing, the split and the seeds are fixed, and the bundle
records the held-out accuracy and the training run's own predictions for a
fixed set of reference PNGs, which the unit tests compare LiteRT against.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from pathlib import Path
from typing import Annotated

import numpy as np
import typer
from PIL import Image

from sfn_inference.core.bundle import BundleMetadata, Dataset, Preprocessing
from sfn_inference.core.imaging import image_to_tensor
from sfn_workbench.training.datasets import (
    IMAGE_SIDE,
    LabelledImages,
    load_cifar100,
    load_digits,
    stratified_split,
    write_pngs,
)

SEED = 0
REFERENCE_PER_CLASS = 2


def build_model(n_classes: int):  # type: ignore[no-untyped-def]
    import tensorflow as tf  # noqa: PLC0415

    layers = tf.keras.layers
    return tf.keras.Sequential(
        [
            layers.Input((IMAGE_SIDE, IMAGE_SIDE, 3)),
            layers.Conv2D(16, 3, activation="relu", padding="same"),
            layers.MaxPooling2D(),
            layers.Conv2D(32, 3, activation="relu", padding="same"),
            layers.MaxPooling2D(),
            layers.Flatten(),
            layers.Dense(64, activation="relu"),
            layers.Dropout(0.3),
            layers.Dense(n_classes, activation="softmax"),
        ]
    )


def tensors(paths: list[Path], spec: Preprocessing) -> np.ndarray:
    return np.stack([image_to_tensor(p.read_bytes(), spec) for p in paths])


def train(data: LabelledImages, dataset: str, source: str, out: Path, epochs: int) -> dict[str, float]:
    import tensorflow as tf  # noqa: PLC0415

    tf.keras.utils.set_random_seed(SEED)
    tf.config.experimental.enable_op_determinism()
    spec = Preprocessing(width=IMAGE_SIDE, height=IMAGE_SIDE, color_mode="RGB")
    train_idx, test_idx = stratified_split(data.labels, 0.2, SEED)
    with tempfile.TemporaryDirectory() as tmp:
        x_train = tensors(write_pngs(data, train_idx, Path(tmp) / "train"), spec)
        test_paths = write_pngs(data, test_idx, Path(tmp) / "test")
        x_test = tensors(test_paths, spec)
        y_train, y_test = data.labels[train_idx], data.labels[test_idx]

        model = build_model(len(data.label_names))
        model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
        model.fit(x_train, y_train, epochs=epochs, batch_size=32, validation_split=0.1, verbose=2)
        keras_acc = float(np.mean(model.predict(x_test, verbose=0).argmax(1) == y_test))

        if out.exists():
            shutil.rmtree(out)
        (out / "reference").mkdir(parents=True)
        tflite = tf.lite.TFLiteConverter.from_keras_model(model).convert()
        (out / "model.tflite").write_bytes(tflite)
        (out / "labels.txt").write_text("\n".join(data.label_names) + "\n")

        # Reference PNGs: the first few test images of each class, with Keras's probabilities.
        reference: dict[str, list[float]] = {}
        for label in range(len(data.label_names)):
            for path in [p for p, y in zip(test_paths, y_test, strict=True) if y == label][:REFERENCE_PER_CLASS]:
                name = f"{data.label_names[label]}_{path.stem}.png"
                shutil.copy(path, out / "reference" / name)
                probs = model.predict(tensors([path], spec), verbose=0)[0]
                reference[name] = [round(float(p), 7) for p in probs]
        reference.update(_write_low_confidence(model, data, test_idx, spec, out / "reference"))
        (out / "reference" / "predictions.json").write_text(json.dumps(reference, indent=1) + "\n")

    tflite_acc = _tflite_accuracy(out / "model.tflite", x_test, y_test)
    counts = np.bincount(y_train, minlength=len(data.label_names))
    metadata = BundleMetadata(
        name=out.name,
        framework=f"tensorflow {tf.__version__} -> LiteRT flatbuffer",
        input_shape=[1, IMAGE_SIDE, IMAGE_SIDE, 3],
        preprocessing=spec,
        dataset=Dataset(
            name=dataset,
            source=source,
            train_size=len(train_idx),
            test_size=len(test_idx),
            label_distribution={
                n: round(float(c / counts.sum()), 6) for n, c in zip(data.label_names, counts, strict=True)
            },
        ),
        test_accuracy=round(tflite_acc, 6),
    )
    (out / "metadata.json").write_text(metadata.to_json() + "\n")
    return {"keras_test_accuracy": keras_acc, "tflite_test_accuracy": tflite_acc}


def _write_low_confidence(model, data, test_idx, spec, out: Path) -> dict[str, list[float]]:  # type: ignore[no-untyped-def]
    """A blend of two test images of different classes that the model is unsure about."""
    rng = np.random.default_rng(SEED)
    for _ in range(500):
        a, b = rng.choice(test_idx, 2, replace=False)
        if data.labels[a] == data.labels[b]:
            continue
        blend = ((data.images[a].astype(np.float32) + data.images[b]) / 2).round().astype(np.uint8)
        path = out / "low_confidence.png"
        Image.fromarray(blend).save(path)
        probs = model.predict(tensors([path], spec), verbose=0)[0]
        if probs.max() < 0.7:
            return {path.name: [round(float(p), 7) for p in probs]}
    raise RuntimeError("found no low-confidence blend")


def _tflite_accuracy(model_path: Path, x: np.ndarray, y: np.ndarray) -> float:
    from ai_edge_litert.interpreter import Interpreter  # noqa: PLC0415

    interpreter = Interpreter(model_path=str(model_path), num_threads=1)
    inp = interpreter.get_input_details()[0]["index"]
    interpreter.resize_tensor_input(inp, list(x.shape), strict=False)
    interpreter.allocate_tensors()
    interpreter.set_tensor(inp, x)
    interpreter.invoke()
    probs = interpreter.get_tensor(interpreter.get_output_details()[0]["index"])
    return float(np.mean(probs.argmax(1) == y))


def main(
    dataset: Annotated[str, typer.Option(help="digits or cifar100")] = "digits",
    cifar_dir: Annotated[
        Path | None, typer.Option(help="directory holding CIFAR-100's train/test/meta pickles")
    ] = None,
    out: Annotated[Path | None, typer.Option(help="the bundle directory to write")] = None,
    epochs: int = 20,
) -> None:
    """Train the image bundle (digits from scikit-learn, or bicycle vs motorcycle from CIFAR-100)."""
    if dataset == "cifar100":
        if cifar_dir is None:
            raise typer.BadParameter("--cifar-dir is required for cifar100")
        train_part = load_cifar100(cifar_dir, "train")
        test_part = load_cifar100(cifar_dir, "test")
        data = LabelledImages(
            np.concatenate([train_part.images, test_part.images]),
            np.concatenate([train_part.labels, test_part.labels]),
            train_part.label_names,
        )
        out, source = out or Path("models/bicycle-motorcycle"), f"CIFAR-100 from {cifar_dir}"
    elif dataset == "digits":
        data, out, source = (
            load_digits(),
            out or Path("models/digits"),
            "sklearn.datasets.load_digits, 8x8 upscaled to 32x32 RGB",
        )
    else:
        raise typer.BadParameter(f"unknown data set {dataset!r} (digits or cifar100)")
    print(json.dumps(train(data, dataset, source, out, epochs), indent=2))


if __name__ == "__main__":
    typer.run(main)
