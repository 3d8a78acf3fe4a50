"""What every trainer shares: the label distribution, the LiteRT conversion and LiteRT's own predictions."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np


def label_distribution(labels: np.ndarray, names: list[str]) -> dict[str, float]:
    """Each label's share of ``labels`` (class indices), as the bundle's metadata records it."""
    counts = np.bincount(labels, minlength=len(names))
    return {name: round(float(c / counts.sum()), 6) for name, c in zip(names, counts, strict=True)}


def to_litert(model: Any) -> bytes:
    """A float32 LiteRT flatbuffer of built-in ops only; the batch dimension stays resizable."""
    import tensorflow as tf  # noqa: PLC0415

    converter = tf.lite.TFLiteConverter.from_keras_model(model)
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS]
    flatbuffer: bytes = converter.convert()
    return flatbuffer


def litert_predict(model_path: Path, x: np.ndarray, batch: int = 256) -> np.ndarray:
    """LiteRT's output for ``x``, ``batch`` rows per invocation (the last one resized down)."""
    from ai_edge_litert.interpreter import Interpreter  # noqa: PLC0415

    interpreter = Interpreter(model_path=str(model_path), num_threads=1)
    inp = interpreter.get_input_details()[0]["index"]
    out = interpreter.get_output_details()[0]["index"]
    results, allocated = [], -1
    for start in range(0, len(x), batch):
        chunk = np.ascontiguousarray(x[start : start + batch], dtype=np.float32)
        if len(chunk) != allocated:
            interpreter.resize_tensor_input(inp, list(chunk.shape), strict=True)
            interpreter.allocate_tensors()
            allocated = len(chunk)
        interpreter.set_tensor(inp, chunk)
        interpreter.invoke()
        results.append(np.array(interpreter.get_tensor(out)))
    return np.concatenate(results)


def write_litert_bundle(model: Any, out: Path, labels: list[str], x_test: np.ndarray, keras_test: np.ndarray,
                        atol: float) -> tuple[Path, np.ndarray]:  # fmt: skip
    """A fresh ``out`` with the model as LiteRT and its labels; LiteRT's test predictions, which must
    equal Keras's within ``atol`` (a conversion that changes the answers is an error, not a bundle)."""
    import shutil  # noqa: PLC0415

    if out.exists():
        shutil.rmtree(out)
    (out / "reference").mkdir(parents=True)
    model_path = out / "model.tflite"
    model_path.write_bytes(to_litert(model))
    (out / "labels.txt").write_text("\n".join(labels) + "\n")
    litert_test = litert_predict(model_path, x_test)
    if not np.allclose(litert_test, keras_test, atol=atol, rtol=0):
        raise RuntimeError(f"LiteRT differs from Keras by {np.abs(litert_test - keras_test).max():.2e}")
    return model_path, litert_test
