"""Structured JSON log lines with the keys Powertools' Logger writes, for classify's hot path.

Powertools' ``Logger`` costs classify about 60 us per line on this machine (the logging
module's record, the caller lookup, its formatter) and, with the package's ``__init__``
pulling in Metrics, Tracer and botocore's user-agent hook, 10-30 ms of cold start. This
writes the same line, key for key (``level, location, message, timestamp, service,
cold_start, function_name, function_memory_size, function_arn, function_request_id``,
the extra keys, ``xray_trace_id``), in a few microseconds, and imports only the standard
library. ``tests/unit/adapters/test_lambda_log.py`` compares it with Powertools' own output.
"""

from __future__ import annotations

import functools
import json
import os
import sys
import time
from collections.abc import Callable
from typing import Any, Protocol, TextIO, TypeVar

#: The levels Powertools reads from POWERTOOLS_LOG_LEVEL, and their order.
LEVELS = {"DEBUG": 10, "INFO": 20, "WARNING": 30, "ERROR": 40, "CRITICAL": 50}
#: One encoder for every line: ``json.dumps`` with these options builds a new one per call.
_ENCODER = json.JSONEncoder(separators=(",", ":"), default=str)


class Context(Protocol):
    """What a Lambda context object gives the log (Powertools' ``inject_lambda_context`` reads the same)."""

    function_name: str
    memory_limit_in_mb: int
    invoked_function_arn: str
    aws_request_id: str


Handler = TypeVar("Handler", bound=Callable[..., Any])


class LambdaLog:
    def __init__(self, service: str | None = None, level: str | None = None, stream: TextIO | None = None) -> None:
        self.service = service or os.environ.get("POWERTOOLS_SERVICE_NAME") or "service_undefined"
        name = (level or os.environ.get("POWERTOOLS_LOG_LEVEL") or os.environ.get("LOG_LEVEL") or "INFO").upper()
        self.level = LEVELS.get(name, LEVELS["INFO"])
        self._stream = stream
        self._context: dict[str, Any] = {}
        self._keys: dict[str, Any] = {}
        self._cold = True
        self._second = -1
        self._stamp = ("", "")

    def inject_lambda_context(self, handler: Handler) -> Handler:
        """Add the invocation's context keys (and ``cold_start``) to every line the handler logs;
        the keys :meth:`append_keys` added in the previous invocation are dropped first (Powertools'
        ``clear_state=True``)."""

        @functools.wraps(handler)
        def wrapper(event: Any, context: Context) -> Any:
            self._context = {
                "cold_start": self._cold,
                "function_name": context.function_name,
                "function_memory_size": context.memory_limit_in_mb,
                "function_arn": context.invoked_function_arn,
                "function_request_id": context.aws_request_id,
            }
            self._cold = False
            self._keys = {}
            return handler(event, context)

        return wrapper  # type: ignore[return-value]

    def append_keys(self, **keys: Any) -> None:
        """Keys on every later line of this invocation (after the context keys, as Powertools puts them)."""
        self._keys.update(keys)

    def info(self, message: str, **extra: Any) -> None:
        if self.level <= LEVELS["INFO"]:
            self._write("INFO", message, extra, sys._getframe(1))

    def warning(self, message: str, **extra: Any) -> None:
        if self.level <= LEVELS["WARNING"]:
            self._write("WARNING", message, extra, sys._getframe(1))

    def _write(self, level: str, message: str, extra: dict[str, Any], caller: Any) -> None:
        now = time.time()
        if int(now) != self._second:  # the date and zone change once a second at most
            local = time.localtime(now)  # Powertools' default: local time, which Lambda keeps at UTC
            self._second, self._stamp = (
                int(now),
                (time.strftime("%Y-%m-%d %H:%M:%S", local), time.strftime("%z", local)),
            )
        date, zone = self._stamp
        line: dict[str, Any] = {
            "level": level,
            "location": f"{caller.f_code.co_name}:{caller.f_lineno}",
            "message": message,
            "timestamp": f"{date},{int(now % 1 * 1000):03d}{zone}",
            "service": self.service,
            **self._context,
            **self._keys,
            **extra,
        }
        trace = os.environ.get("_X_AMZN_TRACE_ID")
        if trace:
            line["xray_trace_id"] = trace.split(";", 1)[0].removeprefix("Root=")
        stream = self._stream or sys.stdout
        stream.write(_ENCODER.encode(line) + "\n")
        stream.flush()
