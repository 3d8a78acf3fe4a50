"""Plugin: moto's Lambda ``invoke`` runs the real handler in a warm worker (no Docker).

Also serves fault injection for tests and drills: ``faults.json`` in the state
directory maps a function name to Lambda service errors to return on its next
invocations, before the handler runs (as a throttled or failing Lambda service would).
"""

from __future__ import annotations

import base64
import json
import threading
from collections.abc import Callable
from typing import Any

from moto.awslambda.exceptions import LambdaClientError
from moto.awslambda.models import LambdaFunction
from moto.logs.models import logs_backends

from sfn_workbench.localcloud import patches
from sfn_workbench.localcloud.context import LocalCloudContext
from sfn_workbench.localcloud.lambda_runtime import FunctionSpec, LambdaService, Publisher

PATCH_TARGETS: tuple[patches.Target, ...] = ((LambdaFunction, "invoke"),)
FAULT_STATUS = {"ServiceException": 500, "TooManyRequestsException": 429, "AWSLambdaException": 500}
_faults_lock = threading.Lock()


class LambdaServiceFault(LambdaClientError):
    """A Lambda *service* error (not a function error): the ASL retries these by name."""

    def __init__(self, error: str) -> None:
        super().__init__(error, f"injected {error} (local cloud fault injection)")
        self.code = FAULT_STATUS.get(error, 500)


def spec_of(fn: LambdaFunction) -> FunctionSpec:
    return FunctionSpec(
        name=fn.function_name,
        arn=fn.function_arn,
        handler=fn.handler or "app.lambda_handler",
        code_sha256=fn.code_sha_256,
        code_zip=fn.code_bytes,
        environment=dict(fn.environment_vars or {}),
        memory_mb=int(fn.memory_size),
        timeout_s=float(fn.timeout),
    )


def take_fault(ctx: LocalCloudContext, function_name: str) -> str | None:
    """Pop the next injected fault for ``function_name``, if any."""
    path = ctx.state_dir / "faults.json"
    with _faults_lock:
        if not path.exists():
            return None
        faults: dict[str, list[str]] = json.loads(path.read_text() or "{}")
        pending = faults.get(function_name) or []
        if not pending:
            return None
        error = pending.pop(0)
        path.write_text(json.dumps(faults))
        return error


def cloudwatch_publisher(ctx: LocalCloudContext) -> Callable[[str], Publisher]:
    """Log lines into moto's CloudWatch Logs, under ``/aws/lambda/<function>``, one stream per environment."""

    def for_function(function_name: str) -> Publisher:
        group = f"/aws/lambda/{function_name}"
        lock = threading.Lock()

        def publish(stream: str, lines: list[tuple[int, str]]) -> None:
            backend = logs_backends[ctx.account_id][ctx.region]
            with lock:
                if group not in backend.groups:
                    backend.create_log_group(group, {})
                if stream not in backend.groups[group].streams:
                    backend.create_log_stream(group, stream)
                backend.put_log_events(group, stream, [{"timestamp": ms, "message": line} for ms, line in lines])

        return publish

    return for_function


def install(ctx: LocalCloudContext) -> LambdaService:
    service = LambdaService(ctx, cloudwatch_publisher(ctx))

    def invoke(self: LambdaFunction, body: Any, request_headers: Any, response_headers: Any) -> bytes:
        fault = take_fault(ctx, self.function_name)
        if fault is not None:
            raise LambdaServiceFault(fault)
        payload = body.encode() if isinstance(body, str) else (body or b"{}")
        spec = spec_of(self)
        result = service.invoke(spec, payload)
        if result.error_type is not None:
            response_headers["x-amz-function-error"] = "Unhandled"
        if str(request_headers.get("x-amz-log-type", "")).lower() == "tail":
            tail = service.pool(spec).log.path.read_bytes()[-4096:]
            response_headers["x-amz-log-result"] = base64.b64encode(tail).decode()
        response_headers["x-amz-executed-version"] = "$LATEST"
        return result.payload

    patches.replace(LambdaFunction, "invoke", invoke)
    return service
