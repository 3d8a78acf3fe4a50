"""The runtime a bundle declares (``litert`` or ``onnxruntime``), loaded once per execution environment.

Each runtime is imported only when a bundle asks for it: the Iris function's artifact
ships ONNX Runtime and not LiteRT, the FordA function's the reverse.
"""

from __future__ import annotations

from sfn_inference.core.bundle import ModelBundle
from sfn_inference.core.ports import TensorModel


def open_model(bundle: ModelBundle, num_threads: int = 1) -> TensorModel:
    if bundle.metadata.runtime == "onnxruntime":
        from sfn_inference.adapters.onnx import OnnxModel  # noqa: PLC0415 - the runtime in use only

        return OnnxModel(bundle.model_path, num_threads)
    from sfn_inference.adapters.litert import LiteRTModel  # noqa: PLC0415 - the runtime in use only

    return LiteRTModel(bundle.model_path, num_threads)
