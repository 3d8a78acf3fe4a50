"""The FordA and Iris functions in a fresh process: cold start, or warm per-request cost.

    python model_function.py cold FUNCTION RESULT.json EVENT.json
    python model_function.py bare FUNCTION RESULT.json INPUT.npy MODEL
    python model_function.py warm FUNCTION RESULT.json EVENTS.json BLOCK_S REPEATS

``cold`` imports the handler (its composition root loads the model during INIT) from the
task root on PYTHONPATH and answers EVENT once. ``bare`` is the floor: numpy and the
function's runtime imported, MODEL loaded, INPUT (the model's tensor) run once. ``warm``
loads the handler once, then times, interleaved, each named event of EVENTS through the
handler and the raw runtime call on that event's own tensor (``{"name": {"event", "tensor"}}``),
in blocks of at least BLOCK_S seconds, REPEATS blocks each. Times are ``time.monotonic()``.
"""

import time

T_MAIN = time.monotonic()

import json  # noqa: E402
import os  # noqa: E402
import sys  # noqa: E402
from typing import Any  # noqa: E402


class Context:
    function_name = "sfn-inference-ModelFunction"
    function_version = "$LATEST"
    memory_limit_in_mb = 1024
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:sfn-inference-ModelFunction"
    aws_request_id = "00000000-0000-0000-0000-000000000002"
    log_group_name = "/aws/lambda/sfn-inference-ModelFunction"
    log_stream_name = "bench"

    def get_remaining_time_in_millis(self) -> int:
        return 30_000


def vm_hwm_kb() -> int:
    with open("/proc/self/status") as f:
        return next((int(line.split()[1]) for line in f if line.startswith("VmHWM:")), 0)


def handler() -> Any:
    name = os.environ.get("_HANDLER", "app.lambda_handler").rpartition(".")[0]
    __import__(name)
    return sys.modules[name]


def cold(event_path: str) -> dict[str, Any]:
    module = handler()
    t_imported = time.monotonic()
    with open(event_path) as f:
        event = json.load(f)
    out = module.lambda_handler(event, Context())
    return {"t_imported": t_imported, "t_predicted": time.monotonic(), "answer": out}


def bare(function: str, input_path: str, model_path: str) -> dict[str, Any]:
    import numpy as np

    if function == "iris":
        import onnxruntime as ort

        t_imported = time.monotonic()
        session = ort.InferenceSession(model_path, providers=["CPUExecutionProvider"])
        t_loaded = time.monotonic()
        [out] = session.run(["probabilities"], {session.get_inputs()[0].name: np.load(input_path)})
    else:
        from ai_edge_litert.interpreter import Interpreter

        t_imported = time.monotonic()
        interpreter = Interpreter(model_path=model_path, num_threads=1)
        interpreter.allocate_tensors()
        t_loaded = time.monotonic()
        interpreter.set_tensor(interpreter.get_input_details()[0]["index"], np.load(input_path))
        interpreter.invoke()
        out = interpreter.get_tensor(interpreter.get_output_details()[0]["index"])
    return {
        "t_imported": t_imported,
        "t_loaded": t_loaded,
        "t_predicted": time.monotonic(),
        "answer": [float(v) for v in out[0]],
    }


def warm(events_path: str, block_s: float, repeats: int) -> dict[str, Any]:
    import dataclasses

    import numpy as np

    module = handler()
    model = module.deps.model
    with_capture = module.deps
    without_capture = dataclasses.replace(with_capture, recorder=None)

    def uncaptured(event: Any) -> Any:
        module.deps = without_capture  # the handler reads its module's deps on each call
        try:
            return module.lambda_handler(event, context)
        finally:
            module.deps = with_capture

    with open(events_path) as f:
        cases = json.load(f)
    context = Context()
    calls: dict[str, Any] = {}
    for name, case in cases.items():
        event = case["event"]
        tensor = np.array(case["tensor"], dtype=np.float32)
        answer = module.lambda_handler(event, context)
        if answer.get("statusCode") != 200:
            raise SystemExit(f"{name}: {answer}")
        calls[f"handler:{name}"] = lambda event=event: module.lambda_handler(event, context)
        calls[f"nocapture:{name}"] = lambda event=event: uncaptured(event)
        calls[f"raw:{name}"] = lambda tensor=tensor: model.run(tensor)
    per_call: dict[str, list[float]] = {name: [] for name in calls}
    for _ in range(repeats):
        for name, call in calls.items():  # interleaved: drift hits every variant alike
            n, start = 0, time.perf_counter()
            while True:
                call()
                n += 1
                elapsed = time.perf_counter() - start
                if elapsed >= block_s and n >= 3:
                    break
            per_call[name].append(elapsed / n)
    return {"per_call_s": per_call}


def main() -> int:
    mode, function, result_path = sys.argv[1:4]
    if mode == "cold":
        result = cold(sys.argv[4])
    elif mode == "bare":
        result = bare(function, sys.argv[4], sys.argv[5])
    else:
        sys.stdout = open(os.devnull, "w")  # noqa: SIM115 - capture lines and logs: not measured as I/O here
        result = warm(sys.argv[4], float(sys.argv[5]), int(sys.argv[6]))
    result.update(t_main=T_MAIN, vm_hwm_kb=vm_hwm_kb(), modules=sorted({m.split(".")[0] for m in sys.modules}))
    with open(result_path, "w") as f:
        json.dump(result, f)
    return 0


if __name__ == "__main__":
    sys.exit(main())
