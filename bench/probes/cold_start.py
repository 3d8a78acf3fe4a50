"""One cold start, in a fresh process: import, model load, first prediction, each time-stamped.

    python cold_start.py classify|bare|tf RESULT.json INPUT LABEL [MODEL]

``classify`` imports the handler module named by ``_HANDLER`` (as the Lambda runtime
does, from LAMBDA_TASK_ROOT on PYTHONPATH), builds its predictor, and invokes it once
with INPUT, a JSON event (for an HTTP function, API Gateway's 2.0 event: the label is
read from the response's body). ``bare`` and ``tf`` load MODEL with LiteRT or with
TensorFlow's ``tf.lite.Interpreter`` and run INPUT, a preprocessed ``.npy`` tensor.
Timestamps are ``time.monotonic()``: one clock for every process on Linux, so the
parent can measure interpreter start-up from the moment it spawned this one.
Nothing is imported before the import phase but what the interpreter has already.
"""

import time

T_MAIN = time.monotonic()

import os  # noqa: E402 - loaded by site before T_MAIN anyway
import sys  # noqa: E402
from typing import Any  # noqa: E402


class Context:
    """The fields of a Lambda context object that Powertools' inject_lambda_context reads."""

    function_name = "sfn-inference-ClassifyFunction"
    function_version = "$LATEST"
    memory_limit_in_mb = 1769
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:sfn-inference-ClassifyFunction"
    aws_request_id = "00000000-0000-0000-0000-000000000001"
    log_group_name = "/aws/lambda/sfn-inference-ClassifyFunction"
    log_stream_name = "bench"

    def get_remaining_time_in_millis(self) -> int:
        return 60_000


def classify(event_path: str) -> tuple[list[float], str]:
    name = os.environ.get("_HANDLER", "app.lambda_handler").rpartition(".")[0]
    __import__(name)  # the import statement's own path: -X importtime sees it (importlib's does not)
    module = sys.modules[name]
    stamps = [time.monotonic()]
    module.deps  # noqa: B018 - built at import (INIT): bundle, interpreter, capture writer
    stamps.append(time.monotonic())
    import json  # the handler has loaded it: free here

    with open(event_path, "rb") as f:
        event = json.load(f)
    result = module.lambda_handler(event, Context())
    stamps.append(time.monotonic())
    # An HTTP function answers API Gateway's 2.0 event with a response whose body holds the label.
    answer = json.loads(result["body"]) if "statusCode" in result else result
    return stamps, str(answer["label"])


def interpreter_route(route: str, tensor_path: str, model_path: str) -> tuple[list[float], str]:
    import numpy as np

    if route == "tf":
        import tensorflow as tf

        interpreter_class: Any = tf.lite.Interpreter
    else:
        from ai_edge_litert.interpreter import Interpreter

        interpreter_class = Interpreter
    stamps = [time.monotonic()]
    interpreter = interpreter_class(model_path=model_path, num_threads=1)
    interpreter.allocate_tensors()
    stamps.append(time.monotonic())
    batch = np.load(tensor_path)
    interpreter.set_tensor(interpreter.get_input_details()[0]["index"], batch)
    interpreter.invoke()
    output = interpreter.get_tensor(interpreter.get_output_details()[0]["index"])
    stamps.append(time.monotonic())
    return stamps, str(int(output[0].argmax()))


def peak_rss_kb() -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    return 0


def main() -> int:
    route, result_path, input_path, expected = sys.argv[1:5]
    if route == "classify":
        stamps, label = classify(input_path)
    else:
        stamps, label = interpreter_route(route, input_path, sys.argv[5])
    import json

    heavy = sorted({m.split(".")[0] for m in sys.modules} & {"boto3", "botocore", "s3transfer", "tensorflow"})
    result = {
        "t_main": T_MAIN,
        "t_imported": stamps[0],
        "t_loaded": stamps[1],
        "t_predicted": stamps[2],
        "vm_hwm_kb": peak_rss_kb(),
        "label": label,
        "label_ok": label == expected,
        "heavy_modules": heavy,
        "modules": len(sys.modules),
    }
    with open(result_path, "w") as f:
        json.dump(result, f)
    return 0 if label == expected else 3


if __name__ == "__main__":
    sys.exit(main())
