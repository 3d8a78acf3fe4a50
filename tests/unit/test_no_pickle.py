"""No model is a pickle and nothing unpickles one: the seed's joblib model loaded arbitrary code.

Three checks: every committed bundle's model file is its runtime's own format (a LiteRT
flatbuffer, an ONNX protobuf) and nothing in ``models/`` is a pickle; each function's
composition root, built and run with every unpickling entry point booby-trapped, loads
and answers; and the objects it loaded are the runtimes' own model types.
"""

from __future__ import annotations

import _pickle
import json
import pickle
import sys
from pathlib import Path

import numpy as np
import pytest

from sfn_inference.adapters.litert import LiteRTImagePredictor, LiteRTModel
from sfn_inference.adapters.memory import InMemoryObjectStore
from sfn_inference.adapters.onnx import OnnxModel
from sfn_inference.core.bundle import ModelBundle
from sfn_inference.roots import classify, forda, iris
from support import ROOT, png_image

MODELS = ROOT / "models"
PICKLE_SUFFIXES = {".pkl", ".pickle", ".joblib", ".npy", ".npz", ".sav", ".p"}


def test_every_bundles_model_file_is_its_runtimes_format_and_nothing_is_a_pickle() -> None:
    bundles = sorted(p.parent for p in MODELS.glob("*/metadata.json"))
    assert {b.name for b in bundles} >= {"digits", "fashion", "forda", "iris"}
    for path in bundles:
        bundle = ModelBundle(path)
        head = bundle.model_path.read_bytes()[:8]
        if bundle.metadata.runtime == "litert":
            assert head[4:8] == b"TFL3", f"{bundle.model_path} is not a LiteRT flatbuffer"
        else:
            assert bundle.metadata.runtime == "onnxruntime"
            assert head[:1] == b"\x08", f"{bundle.model_path} does not start as an ONNX ModelProto (ir_version)"
    for path in MODELS.rglob("*"):
        if path.is_file():
            assert path.suffix.lower() not in PICKLE_SUFFIXES, path
            assert not path.read_bytes()[:2].startswith(b"\x80"), f"{path} starts like a pickle stream"


@pytest.fixture
def no_unpickling(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    calls: list[str] = []

    def trap(name: str):
        def refuse(*args: object, **kwargs: object) -> None:
            calls.append(name)
            raise AssertionError(f"{name} was called while loading or running a model")

        return refuse

    for module, names in ((pickle, ("load", "loads", "Unpickler")), (_pickle, ("load", "loads", "Unpickler"))):
        for name in names:
            monkeypatch.setattr(module, name, trap(f"{module.__name__}.{name}"))
    monkeypatch.setattr(np, "load", trap("numpy.load"))
    monkeypatch.setitem(sys.modules, "joblib", None)  # `import joblib` raises ImportError
    return calls


def test_the_functions_load_and_answer_without_unpickling_anything(no_unpickling: list[str]) -> None:
    series = forda.build(env={"MODEL_DIR": str(MODELS / "forda")})
    tabular = iris.build(env={"MODEL_DIR": str(MODELS / "iris")})
    images = classify.build(store=InMemoryObjectStore(), env={"MODEL_DIR": str(MODELS / "digits")})

    reference = json.loads((MODELS / "forda" / "reference" / "series.json").read_text())[0]
    assert series.model.run(np.array([reference["series"]], dtype=np.float32)[..., None]).shape == (1, 2)
    assert tabular.model.run(np.array([[6.9, 3.1, 5.1, 2.3]], dtype=np.float32)).shape == (1, 3)
    png = (MODELS / "digits" / "reference" / "7_00017.png").read_bytes()
    assert len(images.predictor.predict([png_image(png)])) == 1
    assert no_unpickling == []

    # What was loaded: the runtimes' own model objects, built from their own file formats.
    from ai_edge_litert.interpreter import Interpreter
    from onnxruntime import InferenceSession

    assert type(series.model) is LiteRTModel and isinstance(series.model._interpreter, Interpreter)
    assert type(tabular.model) is OnnxModel and isinstance(tabular.model._session, InferenceSession)
    image_predictor = images.timer.inner
    assert isinstance(image_predictor, LiteRTImagePredictor)
    assert isinstance(image_predictor.model._interpreter, Interpreter)
    loaded = {
        "forda": Path(series.bundle.model_path).suffix,
        "iris": Path(tabular.bundle.model_path).suffix,
    }
    assert loaded == {"forda": ".tflite", "iris": ".onnx"}
