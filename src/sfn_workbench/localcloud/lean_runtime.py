"""An opt-in runtime client for local workers: awslambdaric's loop on a lean keep-alive transport.

``python -m sfn_workbench.localcloud.lean_runtime app.handler`` runs awslambdaric's own
``bootstrap.run`` (handler loading, init errors, the context object, JSON marshalling,
error shapes, log setup), with one difference: the Runtime API calls ``/next``,
``/response`` and ``/error`` go over one persistent HTTP/1.1 connection written and read
in Python, in place of the native libcurl client. It exists to measure and shrink the
local worker hop; awslambdaric stays the default for fidelity. A worker uses it when its
function's environment, or the server's, sets ``SFN_LOCAL_RUNTIME_CLIENT=lean``
(``lambda_runtime.RUNTIME_CLIENT_OPTION``).
"""

from __future__ import annotations

import json
import socket
import sys
from typing import Any

from awslambdaric import bootstrap
from awslambdaric.lambda_runtime_client import InvocationRequest, LambdaRuntimeClient

PREFIX = "/2018-06-01/runtime"
ERROR_TYPE_HEADER = "Lambda-Runtime-Function-Error-Type"


class RuntimeAPIError(RuntimeError):
    """The Runtime API answered with an unexpected status (410: the environment is shutting down)."""


class KeepAliveConnection:
    """One HTTP/1.1 connection to the Runtime API, reused for every call."""

    def __init__(self, address: str) -> None:
        host, _, port = address.rpartition(":")
        self.host = address
        self.sock = socket.create_connection((host, int(port)))
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.reader = self.sock.makefile("rb")

    def call(self, method: str, path: str, body: bytes = b"", headers: dict[str, str] | None = None) -> Any:
        lines = [f"{method} {PREFIX}{path} HTTP/1.1", f"Host: {self.host}", f"Content-Length: {len(body)}"]
        lines += [f"{key}: {value}" for key, value in (headers or {}).items()]
        self.sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body)
        status = int(self.reader.readline().split(b" ", 2)[1])
        received: dict[str, str] = {}
        while (line := self.reader.readline()) not in (b"\r\n", b"\n", b""):
            key, _, value = line.decode("latin-1").partition(":")
            received[key.strip().title()] = value.strip()
        return status, received, self.reader.read(int(received.get("Content-Length", 0)))


class LeanRuntimeClient(LambdaRuntimeClient):  # type: ignore[misc]  # awslambdaric is untyped
    """awslambdaric's client with the invocation calls on :class:`KeepAliveConnection`."""

    def __init__(self, address: str) -> None:
        super().__init__(address)
        self.connection = KeepAliveConnection(address)

    def _expect(self, status: int, expected: int, path: str, body: bytes) -> None:
        if status != expected:
            raise RuntimeAPIError(f"{path}: {status} {body[:200]!r}")

    def wait_next_invocation(self) -> InvocationRequest:
        status, headers, body = self.connection.call("GET", "/invocation/next")
        self._expect(status, 200, "/invocation/next", body)
        return InvocationRequest(
            invoke_id=headers.get("Lambda-Runtime-Aws-Request-Id"),
            x_amzn_trace_id=headers.get("Lambda-Runtime-Trace-Id"),
            invoked_function_arn=headers.get("Lambda-Runtime-Invoked-Function-Arn"),
            deadline_time_in_ms=int(headers.get("Lambda-Runtime-Deadline-Ms", 0)),  # an int, as the native client's
            client_context=headers.get("Lambda-Runtime-Client-Context"),
            cognito_identity=headers.get("Lambda-Runtime-Cognito-Identity"),
            tenant_id=headers.get("Lambda-Runtime-Aws-Tenant-Id"),
            content_type=headers.get("Content-Type"),
            event_body=body,
            invocation_id=headers.get("Lambda-Runtime-Invocation-Id"),
        )

    def post_invocation_result(
        self, invoke_id: str, result_data: Any, content_type: str = "application/json", invocation_id: Any = None
    ) -> None:
        body = result_data if isinstance(result_data, bytes) else result_data.encode("utf-8")
        path = f"/invocation/{invoke_id}/response"
        status, _, answer = self.connection.call("POST", path, body, {"Content-Type": content_type})
        self._expect(status, 202, path, answer)

    def post_invocation_error(
        self, invoke_id: str, error_response_data: str, xray_fault: str, invocation_id: Any = None
    ) -> None:
        error_type = str(json.loads(error_response_data).get("errorType", "Runtime.Unknown"))
        path = f"/invocation/{invoke_id}/error"
        headers = {"Content-Type": "application/json", ERROR_TYPE_HEADER: error_type}
        status, _, answer = self.connection.call("POST", path, error_response_data.encode("utf-8"), headers)
        self._expect(status, 202, path, answer)


def main(argv: list[str]) -> None:
    import os  # noqa: PLC0415

    bootstrap.run(argv[1], LeanRuntimeClient(os.environ["AWS_LAMBDA_RUNTIME_API"]))


if __name__ == "__main__":
    main(sys.argv)
