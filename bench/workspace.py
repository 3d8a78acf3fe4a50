"""The scratch directory of one bench run: the deployed code layout, inputs, logs, cloud state."""

from __future__ import annotations

import base64
import json
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.common import BUNDLE, MAIN_PYTHON, REFERENCE, base_env

#: The image every single-image measure classifies, and the label the training run gave it.
IMAGE = REFERENCE / "7_00017.png"
LABEL = "7"


@dataclass(frozen=True)
class Workspace:
    root: Path

    @property
    def task_root(self) -> Path:
        """classify as the local cloud deploys it: the packaging step's layout, without third-party deps."""
        return self.root / "task" / "classify"

    @property
    def logs(self) -> Path:
        return self.root / "logs"

    @property
    def captures(self) -> Path:
        return self.root / "captures"

    @property
    def event_path(self) -> Path:
        return self.root / "event.json"

    @property
    def tensor_path(self) -> Path:
        return self.root / "tensor.npy"

    @classmethod
    def create(cls, root: Path) -> Workspace:
        from sfn_inference.core.bundle import ModelBundle
        from sfn_workbench.build import build_function

        ws = cls(root)
        for path in (ws.logs, ws.captures):
            path.mkdir(parents=True, exist_ok=True)
        build_function("classify", ws.task_root, with_deps=False)
        ws.event_path.write_text(json.dumps(inline_payload(IMAGE)))
        import numpy as np

        from sfn_inference.core.imaging import image_to_tensor

        tensor = image_to_tensor(IMAGE.read_bytes(), ModelBundle(BUNDLE).preprocessing)[None]
        np.save(ws.tensor_path, tensor)
        return ws

    def python(self) -> str:
        return str(MAIN_PYTHON if MAIN_PYTHON.exists() else Path(sys.executable))

    def task_root_of(self, function: str) -> Path:
        """A function as the local cloud deploys it (the packaging step's layout, no third-party deps)."""
        root = self.root / "task" / function
        if not root.exists():
            from sfn_workbench.build import build_function

            build_function(function, root, with_deps=False)
        return root

    def lambda_env(
        self, function_env: dict[str, str], aws_env: dict[str, str] | None = None, task_root: Path | None = None
    ) -> dict[str, str]:
        """The environment the local cloud's worker gives a function (lambda_runtime.Worker)."""
        task = str(task_root or self.task_root)
        return {
            **base_env(),
            "LANG": "C.UTF-8",
            "TZ": ":UTC",
            **(aws_env or DUMMY_AWS),
            **function_env,
            "AWS_LAMBDA_FUNCTION_NAME": "sfn-inference-ClassifyFunction",
            "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "1769",
            "AWS_LAMBDA_FUNCTION_TIMEOUT": "60",
            "AWS_LAMBDA_LOG_GROUP_NAME": "/aws/lambda/sfn-inference-ClassifyFunction",
            "AWS_EXECUTION_ENV": "AWS_Lambda_python3.12",
            "AWS_LAMBDA_INITIALIZATION_TYPE": "on-demand",
            "LAMBDA_TASK_ROOT": task,
            "LAMBDA_RUNTIME_DIR": str(Path(self.python()).parent),
            "_HANDLER": "app.lambda_handler",
            "PYTHONPATH": task,
            "PYTHONUNBUFFERED": "1",
        }

    def classify_env(self, threads: int = 1, capture_dir: Path | None = None) -> dict[str, str]:
        """classify's variables as infra/template.yaml sets them for Backend=litert, except that
        capture goes to a local directory (its file:// form) rather than to S3: no cloud needed."""
        capture = (capture_dir or self.captures).as_uri()
        return self.lambda_env(
            {
                "POWERTOOLS_SERVICE_NAME": "sfn-inference",
                "POWERTOOLS_LOG_LEVEL": "INFO",
                "POWERTOOLS_METRICS_NAMESPACE": "SfnInference",
                "POWERTOOLS_TRACER_CAPTURE_RESPONSE": "false",
                "BACKEND": "litert",
                "MODEL_DIR": "models/digits",
                "LITERT_NUM_THREADS": str(threads),
                "ENDPOINT_NAME": "",
                "CAPTURE_DESTINATION_S3_URI": capture,
                "CAPTURE_SAMPLING_PERCENTAGE": "100",
                "CAPTURE_ENDPOINT_NAME": "sfn-inference-litert",
            }
        )

    def log(self, name: str) -> Path:
        return self.logs / f"{name}.log"


DUMMY_AWS = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_REGION": "us-east-1",
}


def inline_payload(image: Path, bucket: str = "sfn-inference-imagebucket", prefix: str = "test/") -> dict[str, Any]:
    """What serialize returns for a small image: classify's event."""
    data = image.read_bytes()
    return {
        "s3_bucket": bucket,
        "s3_key": f"{prefix}{image.name}",
        "content_type": "image/png",
        "transport": "inline",
        "image_data": base64.b64encode(data).decode("ascii"),
        "size_bytes": len(data),
    }


def cpu_count() -> int:
    return len(os.sched_getaffinity(0))
