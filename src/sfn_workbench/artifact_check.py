"""Run inside a built artifact, as Lambda would: ``python -S artifact_check.py RESULT`` with the task root
as cwd and on ``sys.path``. Standalone on purpose (stdlib and the artifact only, never the workbench).

Imports every packaged ``sfn_inference`` module (so a lazily imported dependency that
is missing shows up), composes the handler with an in-memory store when the request
brings an S3 object, and calls the handler on each event. The request comes on stdin:
``{"events": [...], "object": {"bucket", "key", "body" (base64), "content_type"} | null,
"absent": [module, ...]}``. The ``absent`` modules are the runtime distributions this function
does not ship (Pillow in the series and tabular functions, LiteRT or ONNX Runtime): a packaged
module that imports one of them is skipped, and each must indeed fail to import.
"""

from __future__ import annotations

import base64
import importlib
import importlib.util
import json
import os
import pkgutil
import sys
from typing import Any

import sfn_inference
from sfn_inference.adapters.memory import InMemoryObjectStore

ORIGINS = (
    "sfn_inference",
    "numpy",
    "PIL",
    "pydantic",
    "aws_lambda_powertools",
    "ai_edge_litert",
    "pyspng",
    "onnxruntime",
    "boto3",
)


class Context:
    """A stand-in Lambda context."""

    function_name = "check"
    memory_limit_in_mb = 1769
    invoked_function_arn = "arn:aws:lambda:us-east-1:" + "0" * 12 + ":function:check"
    aws_request_id = "00000000-0000-0000-0000-000000000000"

    def get_remaining_time_in_millis(self) -> int:
        return 30_000


def main(result_path: str) -> None:
    request = json.load(sys.stdin)
    absent = set(request.get("absent") or [])
    for module in sorted(absent):
        if importlib.util.find_spec(module) is not None:
            raise SystemExit(f"{module} is importable, but this function must not ship it")
    for info in pkgutil.walk_packages(sfn_inference.__path__, "sfn_inference."):
        try:
            importlib.import_module(info.name)
        except ModuleNotFoundError as exc:
            if (exc.name or "").split(".")[0] not in absent:
                raise
    app = importlib.import_module("app")
    if request.get("object"):
        store = InMemoryObjectStore()
        o = request["object"]
        store.put(o["bucket"], o["key"], base64.b64decode(o["body"]), o["content_type"])
        root = importlib.import_module(f"sfn_inference.roots.{request['function']}")
        setattr(app, "deps", root.build(store=store))  # noqa: B010
    results: list[Any] = []
    for event in request["events"]:
        try:
            results.append(app.lambda_handler(event, Context()))
        except Exception as exc:
            results.append({"errorType": type(exc).__name__, "errorMessage": str(exc)})
    origins = {name: getattr(sys.modules.get(name), "__file__", None) for name in ORIGINS}
    here = os.getcwd() + os.sep
    files = (getattr(m, "__file__", None) for m in list(sys.modules.values()))
    loaded = sorted({f for f in files if f and f.startswith(here)})
    with open(result_path, "w") as f:
        json.dump({"results": results, "origins": origins, "loaded": loaded, "python": list(sys.version_info[:2])}, f)


if __name__ == "__main__":
    main(sys.argv[1])
