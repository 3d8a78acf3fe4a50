"""Lambda execution for the local cloud: real handler code in warm worker processes.

Each worker is one execution environment: a ``python -m awslambdaric`` process
(the runtime interface client of AWS's Python base images) polling a small
Runtime API that this module serves on 127.0.0.1. A worker stays warm between
invocations; concurrent invocations get extra workers up to a limit; a timeout
kills the worker and reports ``Sandbox.Timedout`` as Lambda does; errors come
back in Lambda's ``errorType``/``errorMessage``/``stackTrace`` shape.

Workers stop as Lambda shuts an execution environment down: SIGTERM to the
runtime, :data:`SHUTDOWN_GRACE_S` to finish, then SIGKILL. That SIGTERM is the
shutdown hook: a handler module may install ``signal.signal(SIGTERM, ...)`` to
flush what it buffers, and should exit when done. On ``down`` every worker stops
at once (in parallel); after a code or configuration update, idle workers stop
and busy ones finish their invocation first. A worker whose process dies (a
crash, a kill) releases its Runtime API socket and threads straight away.
"""

from __future__ import annotations

import contextlib
import io
import json
import logging
import os
import queue
import selectors
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
import zipfile
from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, TextIO

from sfn_workbench.localcloud.context import LocalCloudContext
from sfn_workbench.procs import stop_process

RUNTIME_PREFIX = "/2018-06-01/runtime"
#: Signals as Lambda's runtime errors name them (Go's wording): "Runtime exited with error: signal: killed".
_SIGNAL_WORDS: dict[int, str] = {
    signal.SIGKILL: "killed",
    signal.SIGTERM: "terminated",
    signal.SIGSEGV: "segmentation fault",
    signal.SIGABRT: "aborted",
    signal.SIGBUS: "bus error",
}
#: Between SIGTERM and SIGKILL when an execution environment shuts down: what Lambda gives
#: a function with external extensions (500 ms with internal ones only, 0 ms with none).
SHUTDOWN_GRACE_S = 2.0


@dataclass(frozen=True)
class FunctionSpec:
    """What the deployed function says about its execution environment."""

    name: str
    arn: str
    handler: str
    code_sha256: str
    code_zip: bytes = field(repr=False, compare=False)
    environment: dict[str, str]
    memory_mb: int
    timeout_s: float
    #: The function's LoggingConfig.LogGroup, else Lambda's default group.
    log_group: str = ""

    def __post_init__(self) -> None:
        if not self.log_group:
            object.__setattr__(self, "log_group", f"/aws/lambda/{self.name}")


@dataclass
class InvocationResult:
    payload: bytes
    error_type: str | None = None  # set when the function failed (FunctionError: Unhandled)
    cold_start: bool = False
    duration_ms: float = 0.0


#: How long the log pump lets a burst of output lines gather before it reads them.
PUMP_GATHER_S = 0.002
#: Lambda's limit on an on-demand INIT (importing the handler module), before the function's own timeout.
INIT_TIMEOUT_S = 10.0


class _Invocation:
    def __init__(self, payload: bytes, deadline: float, crash: bool = False) -> None:
        self.request_id = str(uuid.uuid4())
        self.payload = payload
        self.deadline = deadline
        self.crash = crash  # fault injection: the runtime dies as it takes this invocation
        self.done = threading.Event()
        self.response: bytes = b""
        self.error: dict[str, Any] | None = None
        #: When the runtime took the event and when it answered: REPORT's Duration, as Lambda measures it.
        self.handed: float | None = None
        self.answered: float | None = None


class _RuntimeAPI(ThreadingHTTPServer):
    """The Lambda Runtime API for one worker: next, response, error, init/error."""

    daemon_threads = True

    def __init__(self, worker: Worker) -> None:
        self.worker = worker
        super().__init__(("127.0.0.1", 0), _RuntimeHandler)
        self._wake, self._waker = socket.socketpair()  # stop() wakes the loop: no polling while idle
        self._stopping = False
        self._served = threading.Event()

    def serve(self) -> None:
        """Accept connections until :meth:`stop` (``serve_forever`` would poll for its shutdown flag)."""
        try:
            with selectors.DefaultSelector() as selector:
                selector.register(self, selectors.EVENT_READ)
                selector.register(self._wake, selectors.EVENT_READ)
                while not self._stopping:
                    if any(key.fileobj is self for key, _ in selector.select()) and not self._stopping:
                        self.handle_request()
        finally:
            self._served.set()

    def stop(self, serving: bool = True) -> None:
        """Stop accepting at once and close the listening socket (connections end with their threads)."""
        self._stopping = True
        with contextlib.suppress(OSError):
            self._waker.send(b"x")
        if serving:
            self._served.wait(timeout=5)
        self.server_close()
        self._wake.close()
        self._waker.close()

    @property
    def address(self) -> str:
        host, port = self.server_address[:2]
        return f"{host!s}:{port}"


class _RuntimeHandler(BaseHTTPRequestHandler):
    """The Runtime API's few calls, on a lean path: the worker hop is paid on every invocation.

    Requests are parsed by :meth:`parse_request` (the request line and plain ``Name: value``
    headers into :attr:`fields`, not an ``email`` message), and each reply goes out in one write.
    """

    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # a reply is one write, and the runtime's requests must not wait for ACKs
    server: _RuntimeAPI
    fields: dict[str, str]  # the request's headers, names in lower case
    raw_requestline: bytes

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def parse_request(self) -> bool:
        words = self.raw_requestline.decode("latin-1").split()
        if len(words) != 3 or not words[2].startswith("HTTP/1."):
            self.request_version = "HTTP/1.1"
            self.send_error(400, "Bad request line")
            return False
        self.command, self.path, self.request_version = words
        self.fields = {}
        while (line := self.rfile.readline(65537)) not in (b"\r\n", b"\n", b""):
            name, _, value = line.decode("latin-1").partition(":")
            self.fields[name.strip().lower()] = value.strip()
        if "chunked" in self.fields.get("transfer-encoding", "").lower():
            self.send_error(411, "Content-Length required")  # no Runtime API client sends chunks
            return False
        self.close_connection = self.fields.get("connection", "").lower() == "close"
        if self.fields.get("expect", "").lower() == "100-continue":
            self.wfile.write(b"HTTP/1.1 100 Continue\r\n\r\n")
        return True

    def _reply(self, status: int, body: bytes = b"{}", headers: dict[str, str] | None = None) -> None:
        head = [f"HTTP/1.1 {status} {self.responses.get(status, ('',))[0]}", "Content-Type: application/json"]
        head += [f"{key}: {value}" for key, value in (headers or {}).items()]
        head.append(f"Content-Length: {len(body)}")
        if self.close_connection:
            head.append("Connection: close")
        self.wfile.write(("\r\n".join(head) + "\r\n\r\n").encode("latin-1") + body)

    def do_GET(self) -> None:
        if self.path != f"{RUNTIME_PREFIX}/invocation/next":
            self._reply(404)
            return
        inv = self.server.worker.next_invocation()
        if inv is None:  # the environment is shutting down: no more invocations
            self.close_connection = True
            with contextlib.suppress(OSError):  # the runtime may be gone already
                self._reply(410, b'{"errorMessage":"the execution environment is shutting down"}')
            return
        self._reply(
            200,
            inv.payload,
            {
                "Lambda-Runtime-Aws-Request-Id": inv.request_id,
                "Lambda-Runtime-Deadline-Ms": str(int(inv.deadline * 1000)),
                "Lambda-Runtime-Invoked-Function-Arn": self.server.worker.spec.arn,
                "Lambda-Runtime-Trace-Id": f"Root=1-{int(time.time()):08x}-{uuid.uuid4().hex[:24]};Sampled=0",
            },
        )

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.fields.get("content-length", 0) or 0))
        parts = self.path[len(RUNTIME_PREFIX) :].strip("/").split("/")
        worker = self.server.worker
        error_type = self.fields.get("lambda-runtime-function-error-type")
        if parts == ["init", "error"]:
            worker.init_failed(_error_body(body, error_type))
        elif len(parts) == 3 and parts[0] == "invocation" and parts[2] == "response":
            worker.finish(parts[1], body, None)  # the response is the function's: passed on as it is
        elif len(parts) == 3 and parts[0] == "invocation" and parts[2] == "error":
            worker.finish(parts[1], None, _error_body(body, error_type))
        else:
            self._reply(404)
            return
        self._reply(202, b'{"status":"OK"}')


def _error_body(body: bytes, header_type: str | None) -> dict[str, Any]:
    try:
        data = json.loads(body or b"{}")
    except json.JSONDecodeError:
        data = {"errorMessage": body.decode(errors="replace")}
    if not isinstance(data, dict):
        data = {"errorMessage": str(data)}
    data.setdefault("errorType", header_type or "Runtime.Unknown")
    data.setdefault("errorMessage", "")
    data.setdefault("stackTrace", [])
    return data


#: Where log lines go besides the function's file: (log stream, [(epoch ms, line)]).
Publisher = Callable[[str, list[tuple[int, str]]], None]


class FunctionLog:
    """A function's log: one file for ``sfn-inference logs``, and each line published to its
    execution environment's log stream (CloudWatch Logs, in the server process)."""

    def __init__(self, path: Path, publish: Publisher | None) -> None:
        self.path = path
        self._file: TextIO = path.open("a", buffering=1)
        self._publish = publish
        self._lock = threading.Lock()

    def write(self, stream: str, text: str) -> None:
        now = int(time.time() * 1000)
        with self._lock:
            self._file.write(text)
        if self._publish is not None:
            try:
                self._publish(stream, [(now, line) for line in text.splitlines() if line])
            except Exception:  # a log sink never fails an invocation
                logging.getLogger(__name__).exception("publishing logs of %s failed", stream)


#: The variable, in a function's environment or the server's, that chooses its workers' runtime client.
RUNTIME_CLIENT_OPTION = "SFN_LOCAL_RUNTIME_CLIENT"
#: The runtime clients a worker can run: awslambdaric (the default, as in AWS's base images) or the lean
#: keep-alive client of :mod:`sfn_workbench.localcloud.lean_runtime`.
RUNTIME_CLIENTS = {"awslambdaric": "awslambdaric", "lean": "sfn_workbench.localcloud.lean_runtime"}


def runtime_client_module(spec: FunctionSpec) -> str:
    """The function's environment chooses, else the server's; an unknown name is said and ignored."""
    name = spec.environment.get(RUNTIME_CLIENT_OPTION) or os.environ.get(RUNTIME_CLIENT_OPTION) or "awslambdaric"
    if name not in RUNTIME_CLIENTS:
        logging.getLogger(__name__).warning(
            "%s=%s is not one of %s", RUNTIME_CLIENT_OPTION, name, list(RUNTIME_CLIENTS)
        )
        name = "awslambdaric"
    return RUNTIME_CLIENTS[name]


class Worker:
    """One execution environment: an awslambdaric process and its Runtime API."""

    def __init__(self, spec: FunctionSpec, code_dir: Path, ctx: LocalCloudContext, log: FunctionLog) -> None:
        self.spec = spec
        self.log = log
        # Lambda names a log stream after the date, the version and the execution environment.
        self.stream = f"{time.strftime('%Y/%m/%d', time.gmtime())}/[$LATEST]{uuid.uuid4().hex}"
        self._pending: queue.Queue[_Invocation | None] = queue.Queue()  # None: stop serving /next
        self._current: _Invocation | None = None
        self._init_error: dict[str, Any] | None = None
        self._closed = threading.Event()
        self.invocations = 0
        self.api = _RuntimeAPI(self)
        threading.Thread(target=self.api.serve, name=f"runtime-api-{spec.name}", daemon=True).start()
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "LANG": "C.UTF-8",
            "TZ": ":UTC",
            **ctx.aws_env(),
            # No X-Ray daemon here: Powertools' Tracer stays off (and out of the cold start) locally.
            "POWERTOOLS_TRACE_DISABLED": "true",
            **spec.environment,
            "AWS_LAMBDA_RUNTIME_API": self.api.address,
            "AWS_LAMBDA_FUNCTION_NAME": spec.name,
            "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(spec.memory_mb),
            "AWS_LAMBDA_FUNCTION_TIMEOUT": str(int(spec.timeout_s)),
            "AWS_LAMBDA_LOG_GROUP_NAME": spec.log_group,
            "AWS_EXECUTION_ENV": "AWS_Lambda_python3.12",
            "AWS_LAMBDA_INITIALIZATION_TYPE": "on-demand",
            "LAMBDA_TASK_ROOT": str(code_dir),
            "LAMBDA_RUNTIME_DIR": str(Path(sys.executable).parent),
            "_HANDLER": spec.handler,
            "PYTHONPATH": str(code_dir),
            "PYTHONUNBUFFERED": "1",
        }
        self.process = subprocess.Popen(  # the handler's own process, as in Lambda
            [sys.executable, "-m", runtime_client_module(spec), spec.handler],
            cwd=code_dir,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )
        self._output_lock = threading.Lock()
        self._output_ended = False
        self._partial = b""
        self._pump = threading.Thread(target=self._pump_output, name=f"logs-{spec.name}", daemon=True)
        self._pump.start()

    def _pump_output(self) -> None:
        """The handler's stdout and stderr, line by line, as Lambda's runtime captures them.

        The pump wakes when output arrives, then lets a burst of lines gather for
        :data:`PUMP_GATHER_S` before it reads them all: one wake-up per burst, not one per
        write (each costs the writing handler a context switch, on the clock of its Duration).
        An invocation's END line waits for every line it wrote (:meth:`_read_output`). The
        pipe ends when the process does, however it ends: then the environment's Runtime API
        socket and threads are released at once, not at the next invocation.
        """
        assert self.process.stdout is not None
        with self.process.stdout, selectors.DefaultSelector() as selector:
            os.set_blocking(self.process.stdout.fileno(), False)
            selector.register(self.process.stdout, selectors.EVENT_READ)
            while self._read_output():
                selector.select()
                time.sleep(PUMP_GATHER_S)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.process.wait(timeout=5)
        self.close()

    def _read_output(self) -> bool:
        """Log the whole lines waiting in the pipe; False once it has ended (the process is gone)."""
        assert self.process.stdout is not None
        with self._output_lock:
            while not self._output_ended:
                try:
                    chunk = os.read(self.process.stdout.fileno(), 65536)
                except BlockingIOError:
                    return True
                lines, newline, self._partial = (self._partial + chunk).rpartition(b"\n")
                if newline:
                    self.log.write(self.stream, (lines + newline).decode(errors="replace"))
                if not chunk:  # the end: the last line, even without its newline
                    if self._partial:
                        self.log.write(self.stream, self._partial.decode(errors="replace"))
                    self._output_ended = True
            return False

    # Runtime API side ---------------------------------------------------------
    def next_invocation(self) -> _Invocation | None:
        inv = self._pending.get()
        if inv is None:
            self._pending.put(None)  # for any other poller
            return None
        # The function's timeout runs from when the runtime takes the event: INIT has its own limit.
        inv.deadline = time.time() + self.spec.timeout_s
        self._current = inv
        inv.handed = time.monotonic()
        if inv.crash:
            self.process.kill()
        return inv

    def finish(self, request_id: str, response: bytes | None, error: dict[str, Any] | None) -> None:
        inv = self._current
        if inv is None or inv.request_id != request_id:
            return
        inv.answered = time.monotonic()
        inv.response = response or b""
        inv.error = error
        self._current = None
        inv.done.set()

    def init_failed(self, error: dict[str, Any]) -> None:
        self._init_error = error

    # Invoker side -------------------------------------------------------------
    @property
    def alive(self) -> bool:
        return self.process.poll() is None

    def invoke(self, payload: bytes, *, crash: bool = False) -> InvocationResult:
        """Run one invocation; ``crash`` kills the process as it takes the invocation (fault injection)."""
        started = time.monotonic()
        inv = _Invocation(payload, time.time() + INIT_TIMEOUT_S + self.spec.timeout_s, crash)
        cold = self.invocations == 0
        self.invocations += 1
        self.log.write(self.stream, f"START RequestId: {inv.request_id} Version: $LATEST\n")
        self._pending.put(inv)  # the pool lends a worker to one invocation at a time
        while not inv.done.wait(0.02):
            if not self.alive:
                return self._report(inv, started, cold, self._crash_error(inv))
            if time.time() > inv.deadline:
                self.kill()
                error = {
                    "errorType": "Sandbox.Timedout",
                    "errorMessage": (
                        f"RequestId: {inv.request_id} Error: Task timed out after {self.spec.timeout_s:.2f} seconds"
                    ),
                }
                return self._report(inv, started, cold, error)
        peak_mb = self.peak_rss_mb()
        if inv.error is None and peak_mb > self.spec.memory_mb:
            self.kill()
            error = {
                "errorType": "Runtime.OutOfMemory",
                "errorMessage": f"RequestId: {inv.request_id} Error: Runtime exited with error: signal: killed",
            }
            return self._report(inv, started, cold, error, peak_mb)
        return self._report(inv, started, cold, inv.error, peak_mb)

    def _crash_error(self, inv: _Invocation) -> dict[str, Any]:
        if self._init_error is not None:
            return self._init_error
        return {
            "errorType": "Runtime.ExitError",
            "errorMessage": f"RequestId: {inv.request_id} Error: Runtime exited with error: {self._exit_reason()}",
        }

    def _exit_reason(self) -> str:
        """How Lambda words a runtime's end: ``exit status 1``, ``signal: killed``."""
        code = self.process.returncode
        if code is None or code >= 0:
            return f"exit status {code}"
        return f"signal: {_SIGNAL_WORDS.get(-code, f'signal {-code}')}"

    def _report(
        self, inv: _Invocation, started: float, cold: bool, error: dict[str, Any] | None, peak_mb: int | None = None
    ) -> InvocationResult:
        """END and REPORT. Duration runs, as Lambda's does, from the event handed to the runtime to its
        answer (to now, if it never answered); a cold start's INIT before that is its Init Duration."""
        self._read_output()  # every line the invocation wrote comes before its END
        handed = inv.handed if inv.handed is not None else started
        duration = ((inv.answered if inv.answered is not None else time.monotonic()) - handed) * 1000
        init = f"\tInit Duration: {(handed - started) * 1000:.2f} ms\tInit: cold start" if cold else ""
        peak_mb = self.peak_rss_mb() if peak_mb is None else peak_mb
        self.log.write(
            self.stream,
            f"END RequestId: {inv.request_id}\nREPORT RequestId: {inv.request_id}\tDuration: {duration:.2f} ms\t"
            f"Memory Size: {self.spec.memory_mb} MB\tMax Memory Used: {peak_mb} MB{init}\n",
        )
        if error is not None:
            return InvocationResult(json.dumps(error).encode(), str(error["errorType"]), cold, duration)
        return InvocationResult(inv.response, None, cold, duration)

    def peak_rss_mb(self) -> int:
        with contextlib.suppress(OSError):
            for line in Path(f"/proc/{self.process.pid}/status").read_text().splitlines():
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) // 1024
        return 0

    def kill(self) -> None:
        """SIGKILL at once, as Lambda ends an environment that timed out or ran out of memory."""
        if self.alive:
            self.process.kill()
            self.process.wait(timeout=5)
        self._pump.join(timeout=2)  # every line the process wrote reaches the log before it is gone
        self.close()

    def stop(self, grace_s: float = SHUTDOWN_GRACE_S) -> None:
        """Shut the environment down as Lambda does: SIGTERM, ``grace_s`` to exit, then SIGKILL."""
        stop_process(self.process, grace_s)
        self._pump.join(timeout=2)  # every line the process wrote reaches the log before it is gone
        self.close()

    def close(self) -> None:
        """Release what the environment holds in this process: its Runtime API socket and threads."""
        if self._closed.is_set():
            return
        self._closed.set()
        self._pending.put(None)  # a handler thread blocked in /next returns
        self.api.stop()

    @property
    def closed(self) -> bool:
        return self._closed.is_set()


class FunctionPool:
    """The execution environments of one function version."""

    def __init__(self, spec: FunctionSpec, ctx: LocalCloudContext, publish: Publisher | None = None) -> None:
        self.spec = spec
        self.ctx = ctx
        self.code_dir = _extract(spec, ctx.state_dir / "functions")
        ctx.logs_dir.mkdir(parents=True, exist_ok=True)
        self.log = FunctionLog(ctx.logs_dir / f"{spec.name}.log", publish)
        self._idle: list[Worker] = []
        self._all: list[Worker] = []
        self._cond = threading.Condition()
        self._retired = False
        self.cold_starts = 0

    def _acquire(self) -> Worker:
        with self._cond:
            while True:
                for dead in [w for w in self._all if not w.alive and w not in self._idle]:
                    self._all.remove(dead)  # died while lent out: already reported by its invocation
                    dead.close()
                while self._idle:
                    worker = self._idle.pop()
                    if worker.alive:
                        return worker
                    self._all.remove(worker)
                    worker.close()
                if len(self._all) < self.ctx.max_workers_per_function:
                    worker = Worker(self.spec, self.code_dir, self.ctx, self.log)
                    self._all.append(worker)
                    self.cold_starts += 1
                    return worker
                self._cond.wait()

    def _release(self, worker: Worker) -> None:
        with self._cond:
            if worker.alive and not self._retired:
                self._idle.append(worker)
            else:
                if worker in self._all:
                    self._all.remove(worker)
                _in_background(worker.stop if worker.alive else worker.close)
            self._cond.notify()

    def invoke(self, payload: bytes, *, crash: bool = False) -> InvocationResult:
        worker = self._acquire()
        try:
            return worker.invoke(payload, crash=crash)
        finally:
            self._release(worker)

    def take_workers(self) -> list[Worker]:
        """Every environment of this pool, which forgets them (they are the caller's to stop)."""
        with self._cond:
            self._retired = True  # a busy one released later is stopped, not kept
            workers, self._all, self._idle = list(self._all), [], []
            self._cond.notify_all()
            return workers

    def retire(self) -> None:
        """A new version replaces this one: idle environments stop now, busy ones when they finish."""
        with self._cond:
            self._retired = True
            idle, self._idle = self._idle, []
            self._all = [w for w in self._all if w not in idle]
        _in_background(lambda: stop_all(idle))

    def shutdown(self, grace_s: float = SHUTDOWN_GRACE_S) -> None:
        stop_all(self.take_workers(), grace_s)


def stop_all(workers: list[Worker], grace_s: float = SHUTDOWN_GRACE_S) -> None:
    """Stop every worker at once: SIGTERM to all, each gets ``grace_s``, then SIGKILL."""
    threads = [threading.Thread(target=w.stop, args=(grace_s,), name="stop-worker") for w in workers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()


def _in_background(action: Callable[[], None]) -> None:
    threading.Thread(target=action, name="stop-worker", daemon=True).start()


def _extract(spec: FunctionSpec, root: Path) -> Path:
    """Unzip the deployed code once per version, as Lambda does into /var/task."""
    target = root / spec.name / spec.code_sha256[:16]
    if not (target / ".extracted").exists():
        target.mkdir(parents=True, exist_ok=True)
        with zipfile.ZipFile(io.BytesIO(spec.code_zip)) as archive:
            archive.extractall(target)
        (target / ".extracted").touch()
    return target


class LambdaStoppedError(RuntimeError):
    """An invocation arrived after the local cloud began to stop: no new environment starts."""


class LambdaService:
    """All function pools of the local cloud, keyed by function name and code version."""

    def __init__(self, ctx: LocalCloudContext, publish: Callable[[str], Publisher] | None = None) -> None:
        self.ctx = ctx
        self._publish = publish  # log group -> where its log lines go besides the file
        self._pools: dict[str, FunctionPool] = {}
        self._lock = threading.Lock()
        self._accepting: Collection[str] | None = None  # None: every function; once stopping, those kept

    def pool(self, spec: FunctionSpec) -> FunctionPool:
        with self._lock:
            if self._accepting is not None and spec.name not in self._accepting:
                raise LambdaStoppedError(f"{spec.name}: the local cloud is stopping")
            pool = self._pools.get(spec.name)
            if pool is None or pool.spec != spec:
                if pool is not None:
                    pool.retire()  # new code or configuration: fresh environments; in-flight calls finish
                publish = self._publish(spec.log_group) if self._publish else None
                pool = self._pools[spec.name] = FunctionPool(spec, self.ctx, publish)
            return pool

    def invoke(self, spec: FunctionSpec, payload: bytes, *, crash: bool = False) -> InvocationResult:
        return self.pool(spec).invoke(payload, crash=crash)

    def stats(self) -> dict[str, dict[str, int]]:
        return {name: {"cold_starts": p.cold_starts} for name, p in self._pools.items()}

    def shutdown(self, keep: Collection[str] = (), grace_s: float = SHUTDOWN_GRACE_S) -> None:
        """Stop every function's environments at once (``down``), except those of the functions named
        in ``keep``: only they may still be invoked, and start new environments."""
        with self._lock:
            self._accepting = set(keep)
            names = [n for n in self._pools if n not in keep]
            workers = [w for name in names for w in self._pools.pop(name).take_workers()]
        stop_all(workers, grace_s)
