"""Train the Fashion-MNIST bundle: ``python -m sfn_workbench.training.fashion --out models/fashion``.

Runs in the ``train`` environment (TensorFlow). The data is the real Fashion-MNIST
shipped by the Debian package ``dataset-fashion-mnist`` (idx files under
``/usr/share/datasets/fashion-mnist``): no download. Every input goes through the
serving preprocessing (:func:`sfn_inference.core.imaging.to_tensor`, mode "L",
``pixels / 255``), the reference PNGs are read back through
:func:`~sfn_inference.core.imaging.image_to_tensor`, and the bundle records
LiteRT's probabilities for them. Seeds and the validation split are fixed.
"""

from __future__ import annotations

import gzip
import json
import time
from dataclasses import asdict
from pathlib import Path
from typing import Annotated, Any, Literal

import numpy as np
import typer
from PIL import Image

from sfn_inference.core.bundle import Preprocessing
from sfn_inference.core.imaging import image_to_tensor, to_tensor
from sfn_workbench.training.common import label_distribution, litert_predict, write_litert_bundle
from sfn_workbench.training.datasets import stratified_split

NAME = "fashion"
#: Where ``apt-get install dataset-fashion-mnist`` puts the four idx files.
FASHION_DIR = Path("/usr/share/datasets/fashion-mnist")
#: Fashion-MNIST's classes 0-9, lower-case and hyphenated.
LABELS = ["t-shirt", "trouser", "pullover", "dress", "coat", "sandal", "shirt", "sneaker", "bag", "ankle-boot"]
SIDE = 28
SEED = 0
VALIDATION_FRACTION = 0.1
#: Tolerance between Keras's and LiteRT's probabilities.
ATOL = 1e-5

#: idx type codes: http://yann.lecun.com/exdb/mnist/ ("THE IDX FILE FORMAT"), all big-endian.
_IDX_DTYPES: dict[int, str] = {0x08: ">u1", 0x09: ">i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}
_GZIP_MAGIC = b"\x1f\x8b"


def parse_idx(data: bytes) -> np.ndarray:
    """Decode one idx file (gzip-compressed or not) into an array of its declared type and shape."""
    if data[:2] == _GZIP_MAGIC:
        data = gzip.decompress(data)
    if len(data) < 4 or data[:2] != b"\x00\x00" or data[2] not in _IDX_DTYPES:
        raise ValueError(f"not an idx file (magic {data[:4]!r})")
    dtype, ndim = np.dtype(_IDX_DTYPES[data[2]]), data[3]
    header = 4 + 4 * ndim
    if len(data) < header:
        raise ValueError("idx header is truncated")
    shape = tuple(int(d) for d in np.frombuffer(data, dtype=">u4", count=ndim, offset=4))
    expected = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    if len(data) - header != expected:
        raise ValueError(f"idx body has {len(data) - header} bytes, shape {shape} needs {expected}")
    return np.frombuffer(data, dtype=dtype, offset=header).reshape(shape).astype(dtype.newbyteorder("="))


def read_idx(path: Path) -> np.ndarray:
    return parse_idx(path.read_bytes())


def load_fashion_mnist(root: Path, split: Literal["train", "t10k"]) -> tuple[np.ndarray, np.ndarray]:
    """``(images (N, 28, 28) uint8, labels (N,) int64)`` of one split of the idx files in ``root``."""
    images = read_idx(root / f"{split}-images-idx3-ubyte.gz")
    labels = read_idx(root / f"{split}-labels-idx1-ubyte.gz").astype(np.int64)
    if images.ndim != 3 or images.dtype != np.uint8 or labels.shape != images.shape[:1]:
        raise ValueError(f"{root}/{split}: images {images.shape} {images.dtype} do not match labels {labels.shape}")
    if labels.min() < 0 or labels.max() >= len(LABELS):
        raise ValueError(f"{root}/{split}: labels outside 0..{len(LABELS) - 1}")
    return images, labels


def preprocessing() -> Preprocessing:
    return Preprocessing(width=SIDE, height=SIDE, color_mode="L")


def tensors(images: np.ndarray, spec: Preprocessing) -> np.ndarray:
    """The serving tensors of uint8 grayscale images: what a lossless PNG of each decodes to."""
    return np.stack([to_tensor(Image.fromarray(image), spec) for image in images])


def build_model(n_classes: int) -> Any:
    import tensorflow as tf  # noqa: PLC0415

    layers = tf.keras.layers
    return tf.keras.Sequential(
        [
            layers.Input((SIDE, SIDE, 1)),
            layers.Conv2D(16, 3, activation="relu", padding="same"),
            layers.MaxPooling2D(),
            layers.Conv2D(32, 3, activation="relu", padding="same"),
            layers.MaxPooling2D(),
            layers.Conv2D(64, 3, activation="relu", padding="same"),
            layers.MaxPooling2D(),
            layers.Flatten(),
            layers.Dropout(0.25),
            layers.Dense(128, activation="relu"),
            layers.Dropout(0.25),
            layers.Dense(n_classes, activation="softmax"),
        ]
    )


def main(out: Path, data_dir: Path = FASHION_DIR, max_epochs: int = 20) -> dict[str, Any]:
    """Train, convert and write the bundle to ``out``; returns the run's figures."""
    import tensorflow as tf  # noqa: PLC0415

    started = time.monotonic()
    tf.keras.utils.set_random_seed(SEED)
    tf.config.experimental.enable_op_determinism()
    spec = preprocessing()
    train_images, y_train = load_fashion_mnist(data_dir, "train")
    test_images, y_test = load_fashion_mnist(data_dir, "t10k")
    x_train, x_test = tensors(train_images, spec), tensors(test_images, spec)
    fit_idx, val_idx = stratified_split(y_train, VALIDATION_FRACTION, SEED)

    model = build_model(len(LABELS))
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    history = model.fit(
        x_train[fit_idx],
        y_train[fit_idx],
        validation_data=(x_train[val_idx], y_train[val_idx]),
        epochs=max_epochs,
        batch_size=64,
        callbacks=[tf.keras.callbacks.EarlyStopping(monitor="val_loss", patience=3, restore_best_weights=True)],
        verbose=2,
    )
    trained = time.monotonic()
    keras_test = model.predict(x_test, batch_size=1000, verbose=0)

    model_path, litert_test = write_litert_bundle(model, out, LABELS, x_test, keras_test, ATOL)

    # Reference PNGs: the first test image of each class, read back as serving reads them.
    names, references = [], []
    for label, label_name in enumerate(LABELS):
        index = int(np.flatnonzero(y_test == label)[0])
        path = out / "reference" / f"{label_name}_{index:05d}.png"
        Image.fromarray(test_images[index]).save(path, optimize=True)
        tensor = image_to_tensor(path.read_bytes(), spec)
        if not np.array_equal(tensor, x_test[index]):
            raise RuntimeError(f"{path.name} does not decode to the tensor the model was scored on")
        names.append(path.name)
        references.append(tensor)
    x_ref = np.stack(references)
    probs_ref = litert_predict(model_path, x_ref, batch=len(x_ref))
    keras_ref = model.predict(x_ref, verbose=0)
    if not np.allclose(probs_ref, keras_ref, atol=ATOL, rtol=0):
        raise RuntimeError("LiteRT differs from Keras on the reference PNGs")
    for batch in (1, 8):  # a resizable batch dimension
        if not np.allclose(litert_predict(model_path, x_ref, batch=batch), probs_ref, atol=ATOL, rtol=0):
            raise RuntimeError(f"LiteRT at batch {batch} disagrees with a full batch")
    predictions = {n: [round(float(p), 8) for p in probs] for n, probs in zip(names, probs_ref, strict=True)}
    (out / "reference" / "predictions.json").write_text(json.dumps(predictions, indent=1) + "\n")

    litert_acc = float(np.mean(litert_test.argmax(1) == y_test))
    metadata = {
        "name": NAME,
        "kind": "image",
        "runtime": "litert",
        "model_file": model_path.name,
        "framework": f"tensorflow {tf.__version__} -> LiteRT flatbuffer",
        "input_shape": [1, SIDE, SIDE, 1],
        "input_dtype": "float32",
        "output": "probabilities",
        "preprocessing": asdict(spec),
        "dataset": {
            "name": "fashion-mnist",
            "source": (
                "Zalando Fashion-MNIST from the Debian package dataset-fashion-mnist "
                f"({data_dir}/{{train,t10k}}-*-idx*-ubyte.gz): trained on the train split "
                f"({1 - VALIDATION_FRACTION:.0%} fit, {VALIDATION_FRACTION:.0%} stratified validation), "
                "scored on t10k"
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
        "epochs": len(history.history["loss"]),
        "model_bytes": model_path.stat().st_size,
        "train_seconds": round(trained - started, 1),
        "total_seconds": round(time.monotonic() - started, 1),
    }


app = typer.Typer(add_completion=False)


@app.command()
def cli(
    out: Annotated[Path, typer.Option(help="bundle directory to (re)write")] = Path("models") / NAME,
    data_dir: Annotated[Path, typer.Option(help="directory of the Fashion-MNIST idx files")] = FASHION_DIR,
    epochs: Annotated[int, typer.Option(min=1, help="most epochs; early stopping usually ends sooner")] = 20,
) -> None:
    """Train the Fashion-MNIST CNN, write the bundle to OUT and print the run's figures as JSON."""
    typer.echo(json.dumps(main(out, data_dir, epochs), indent=2))


if __name__ == "__main__":
    app()
