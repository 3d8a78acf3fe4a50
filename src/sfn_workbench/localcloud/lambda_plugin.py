"""Plugin: moto's Lambda ``invoke`` runs the real handler in a warm worker (no Docker).

Also serves fault injection for tests and drills: ``faults.json`` in the state
directory maps a function name to faults for its next invocations: a Lambda service
error (``ServiceException``, ``TooManyRequestsException``, ...) returned before the
handler runs, as a throttled or failing Lambda service would, or ``Runtime.ExitError``:
the execution environment's process is killed while the handler runs.
"""

from __future__ import annotations

import base64
import json
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from moto.awslambda.exceptions import LambdaClientError
from moto.awslambda.models import LambdaFunction
from moto.logs.models import logs_backends

from sfn_workbench.localcloud import patches
from sfn_workbench.localcloud.context import LocalCloudContext
from sfn_workbench.localcloud.lambda_runtime import FunctionSpec, LambdaService, LambdaStoppedError, Publisher

PATCH_TARGETS: tuple[patches.Target, ...] = ((LambdaFunction, "invoke"),)
FAULT_STATUS = {"ServiceException": 500, "TooManyRequestsException": 429, "AWSLambdaException": 500}
#: The fault that kills the environment mid-invocation instead of failing at the service.
CRASH_FAULT = "Runtime.ExitError"
_faults_lock = threading.Lock()
log = logging.getLogger(__name__)


class LambdaServiceFault(LambdaClientError):
    """A Lambda *service* error (not a function error): the ASL retries these by name."""

    def __init__(self, error: str, message: str | None = None) -> None:
        super().__init__(error, message or f"injected {error} (local cloud fault injection)")
        self.code = FAULT_STATUS.get(error, 500)


def spec_of(fn: LambdaFunction, ctx: LocalCloudContext) -> FunctionSpec:
    return FunctionSpec(
        name=fn.function_name,
        arn=fn.function_arn,
        handler=fn.handler or "app.lambda_handler",
        code_sha256=fn.code_sha_256,
        code_zip=fn.code_bytes,
        environment=dict(fn.environment_vars or {}),
        memory_mb=int(fn.memory_size),
        timeout_s=float(fn.timeout),
        log_group=ctx.log_groups().get(fn.function_name, ""),
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


class LogPublisher:
    """Lambda's log lines into moto's CloudWatch Logs, a stream per execution environment.

    Lines are batched and put once a second, as Lambda's log agent does: a put triggers
    the log group's subscription filters (moto invokes a subscribed function at once),
    so one put per line would be one invocation per line. :meth:`close` puts the rest.
    """

    def __init__(self, ctx: LocalCloudContext, interval_s: float = 1.0) -> None:
        self.ctx = ctx
        self._pending: dict[tuple[str, str], list[tuple[int, str]]] = {}
        self._lock = threading.Lock()
        self._put_lock = threading.Lock()
        #: Called with (log group, lines) after each put: what CloudWatch Logs does besides storing (EMF).
        self.listeners: list[Callable[[str, list[str]], None]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, args=(interval_s,), name="log-publisher", daemon=True)
        self._thread.start()

    def for_group(self, group: str) -> Publisher:
        def publish(stream: str, lines: list[tuple[int, str]]) -> None:
            with self._lock:
                self._pending.setdefault((group, stream), []).extend(lines)

        return publish

    def _run(self, interval_s: float) -> None:
        while not self._stop.wait(interval_s):
            self.flush()

    def flush(self) -> None:
        with self._lock:
            pending, self._pending = self._pending, {}
        with self._put_lock:
            backend = logs_backends[self.ctx.account_id][self.ctx.region]
            for (group, stream), lines in pending.items():
                try:
                    if group not in backend.groups:
                        backend.create_log_group(group, {})
                    if stream not in backend.groups[group].streams:
                        backend.create_log_stream(group, stream)
                    # The runtime's lines and the handler's come from two threads: put them in time
                    # order, in batches PutLogEvents accepts, as Lambda's log agent does.
                    for batch in put_batches(sorted(lines, key=lambda entry: entry[0])):
                        backend.put_log_events(group, stream, [{"timestamp": ms, "message": m} for ms, m in batch])
                    for listener in self.listeners:
                        listener(group, [line for _, line in lines])
                except Exception:  # a log sink never fails an invocation; the file log has every line
                    log.exception("publishing %d lines to %s failed", len(lines), group)

    def subscribed_functions(self) -> set[str]:
        """Functions that log subscriptions deliver to: they must outlive the last flush."""
        backend = logs_backends[self.ctx.account_id][self.ctx.region]
        arns = {f.destination_arn for g in backend.groups.values() for f in g.subscription_filters.values()}
        return {arn.split(":")[6] for arn in arns if arn.split(":")[2] == "lambda"}

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        self.flush()


#: PutLogEvents' limits: 10,000 events and 1,048,576 bytes (each event counting 26 bytes more).
MAX_PUT_EVENTS = 10_000
MAX_PUT_BYTES = 1_048_576


def put_batches(lines: list[tuple[int, str]]) -> list[list[tuple[int, str]]]:
    batches: list[list[tuple[int, str]]] = [[]]
    size = 0
    for entry in lines:
        cost = len(entry[1].encode()) + 26
        if batches[-1] and (len(batches[-1]) >= MAX_PUT_EVENTS or size + cost > MAX_PUT_BYTES):
            batches.append([])
            size = 0
        batches[-1].append(entry)
        size += cost
    return [b for b in batches if b]


@dataclass
class LocalLambda:
    service: LambdaService
    publisher: LogPublisher

    def shutdown(self) -> None:
        """Stop the environments so that every line they logged is delivered: the functions that
        log subscriptions deliver to (the capture compactor) stop last, after the final put."""
        started = time.monotonic()
        keep = self.publisher.subscribed_functions()
        self.service.shutdown(keep=keep)
        stopped = time.monotonic()
        self.publisher.close()
        flushed = time.monotonic()
        self.service.shutdown()
        log.info(
            "lambda shutdown: workers %.0f ms, last log put %.0f ms, %s %.0f ms",
            (stopped - started) * 1000,
            (flushed - stopped) * 1000,
            ", ".join(sorted(keep)) or "no subscribed function",
            (time.monotonic() - flushed) * 1000,
        )


def install(ctx: LocalCloudContext) -> LocalLambda:
    publisher = LogPublisher(ctx)
    service = LambdaService(ctx, publisher.for_group)

    def invoke(self: LambdaFunction, body: Any, request_headers: Any, response_headers: Any) -> bytes:
        fault = take_fault(ctx, self.function_name)
        if fault is not None and fault != CRASH_FAULT:
            raise LambdaServiceFault(fault)
        payload = body.encode() if isinstance(body, str) else (body or b"{}")
        spec = spec_of(self, ctx)
        try:
            result = service.invoke(spec, payload, crash=fault == CRASH_FAULT)
        except LambdaStoppedError as exc:  # a service error: the ASL retries it
            raise LambdaServiceFault("ServiceException", str(exc)) from None
        if result.error_type is not None:
            response_headers["x-amz-function-error"] = "Unhandled"
        if str(request_headers.get("x-amz-log-type", "")).lower() == "tail":
            tail = service.pool(spec).log.path.read_bytes()[-4096:]
            response_headers["x-amz-log-result"] = base64.b64encode(tail).decode()
        response_headers["x-amz-executed-version"] = "$LATEST"
        return result.payload

    patches.replace(LambdaFunction, "invoke", invoke)
    return LocalLambda(service, publisher)
