"""ONNX Runtime in-process: the runtime of ``runtime: onnxruntime`` bundles (the Iris random forest).

The session is created once per execution environment, on the CPU provider, with one
intra-op thread by default: a Lambda function below 1769 MB has less than one vCPU, and
a tree ensemble on one record gains nothing from more. Only the probabilities output is
fetched (skl2onnx's classifiers also emit a label tensor, which ``argmax`` gives anyway).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from sfn_inference.core.errors import ModelBundleError

#: The output holding the class probabilities, as skl2onnx names it (zipmap off).
PROBABILITIES = "probabilities"


class OnnxModel:
    """One ``InferenceSession``; ``run`` takes an (N, ...) float32 tensor and is one ``session.run``."""

    def __init__(self, model_path: Path, num_threads: int = 1) -> None:
        import onnxruntime as ort  # noqa: PLC0415 - heavy, load once

        options = ort.SessionOptions()
        options.intra_op_num_threads = num_threads
        options.inter_op_num_threads = 1
        options.log_severity_level = 3  # errors only: no warnings on the function's log per environment
        self._session = ort.InferenceSession(str(model_path), options, providers=["CPUExecutionProvider"])
        inputs = self._session.get_inputs()
        if len(inputs) != 1:
            raise ModelBundleError(f"{model_path.name} takes {len(inputs)} inputs; one tensor input is supported")
        self.input_name: str = inputs[0].name
        outputs = [o.name for o in self._session.get_outputs()]
        self.output_name: str = PROBABILITIES if PROBABILITIES in outputs else outputs[-1]

    def run(self, batch: np.ndarray) -> np.ndarray:
        [out] = self._session.run([self.output_name], {self.input_name: batch})
        return np.asarray(out)
