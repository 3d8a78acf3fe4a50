"""moto's WSGI app served with HTTP/1.1 persistent connections.

moto's ``ThreadedMotoServer`` is werkzeug's development server, which closes every
connection after one response: each boto3 call, the ASL interpreter's Lambda invokes
and the Lambda workers' S3 calls included, opens a new TCP connection, and the server
starts a new thread for it and lingers 10 ms draining the socket. Here the same app,
with moto's own request handler (``MotoRequestHandler``: its header handling stays), is
served as HTTP/1.1 servers serve: a connection carries request after request until the
client closes it or asks to (``Connection: close``, or HTTP/1.0). What werkzeug's comment
says http.server cannot do, drain the rest of a request body before the next request
line, is done here: the app reads the body through a stream limited to its
``Content-Length`` (or de-chunked), and what it leaves unread is read and dropped.

Still one thread per connection, as werkzeug's server: a Lambda invoke that waits for
a worker, which itself calls S3 on this server, can never starve a fixed pool.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from moto.moto_server.werkzeug_app import DomainDispatcherApplication, MotoRequestHandler, create_backend_app
from werkzeug.exceptions import InternalServerError
from werkzeug.serving import BaseWSGIServer, make_server
from werkzeug.wsgi import LimitedStream

#: Responses that never carry a body, whatever their headers say (RFC 9110, 6.4.1).
BODYLESS_STATUSES = frozenset({204, 304})
#: What werkzeug treats as the client going away mid-response.
DROPPED = (ConnectionError, TimeoutError)


class KeepAliveRequestHandler(MotoRequestHandler):
    """moto's request handler, keeping the connection open between requests."""

    protocol_version = "HTTP/1.1"
    #: A response's head and body leave in one segment (buffered, flushed once per write), and
    #: without Nagle's delay: on a kept-alive connection a small second segment would otherwise
    #: wait for the client's delayed ACK, 40 ms.
    wbufsize = 64 * 1024
    disable_nagle_algorithm = True

    def run_wsgi(self) -> None:
        if self.headers.get("Expect", "").lower().strip(" \t") == "100-continue":
            self.wfile.write(b"HTTP/1.1 100 Continue\r\n\r\n")
            self.wfile.flush()
        self.environ = environ = self.make_environ()
        body = _body(environ)
        response = _Response(self, environ["REQUEST_METHOD"] == "HEAD")
        try:
            response.send(self.server.app(environ, response.start))
        except DROPPED:
            self.close_connection = True
            return
        except Exception as exc:  # werkzeug's behaviour: a 500 when nothing was sent yet, and the error logged
            self.close_connection = True
            if not response.started:
                response.reset()
                response.send(InternalServerError()(environ, response.start))
            self.server.log("error", f"Error on request {self.command} {self.path}: {exc!r}")
            return
        if not self.close_connection and not _drained(body):
            self.close_connection = True


class _Response:
    """The WSGI ``start_response`` and body writer of one request."""

    def __init__(self, handler: KeepAliveRequestHandler, head: bool) -> None:
        self.handler, self.head = handler, head
        self.status: str | None = None
        self.headers: list[tuple[str, str]] = []
        self.started = False
        self.chunked = False

    def reset(self) -> None:
        self.status, self.headers = None, []

    def start(self, status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Callable[[bytes], None]:
        if exc_info and self.started:
            raise exc_info[1].with_traceback(exc_info[2])
        self.status, self.headers = status, headers
        return self.write

    def send(self, body: Iterable[bytes]) -> None:
        try:
            for data in body:
                self.write(data)
            if not self.started:
                self.write(b"")
            if self.chunked:
                self.handler.wfile.write(b"0\r\n\r\n")
        finally:
            close = getattr(body, "close", None)
            if close is not None:
                close()

    def write(self, data: bytes) -> None:
        handler = self.handler
        if not self.started:
            self._write_head()
        if data and not self.head:
            if self.chunked:
                handler.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
            else:
                handler.wfile.write(data)
        handler.wfile.flush()

    def _write_head(self) -> None:
        handler = self.handler
        if self.status is None:
            raise AssertionError("write() before start_response")
        code_text, _, message = self.status.partition(" ")
        code = int(code_text)
        handler.send_response(code, message)
        names = set()
        for name, value in self.headers:
            handler.send_header(name, value)  # a "Connection: close" from the app closes it after this response
            names.add(name.lower())
        if not ("content-length" in names or self.head or code < 200 or code in BODYLESS_STATUSES):
            if handler.request_version >= "HTTP/1.1":
                self.chunked = True
                handler.send_header("Transfer-Encoding", "chunked")
            else:
                handler.close_connection = True  # an HTTP/1.0 client reads the body to the close
        if handler.close_connection and "connection" not in names:
            handler.send_header("Connection", "close")
        handler.end_headers()
        self.started = True


def _body(environ: dict[str, Any]) -> Any:
    """The request body as the app reads it: de-chunked (werkzeug did it), or exactly ``Content-Length`` bytes."""
    if environ.get("wsgi.input_terminated"):
        return environ["wsgi.input"]
    try:
        length = max(int(environ.get("CONTENT_LENGTH") or 0), 0)
    except ValueError:
        length = 0
    environ["wsgi.input"] = LimitedStream(environ["wsgi.input"], length)
    return environ["wsgi.input"]


def _drained(body: Any) -> bool:
    """Read what the app left of the body, so that the next request starts at its request line."""
    try:
        if isinstance(body, LimitedStream):
            body.exhaust()
            return True
        while body.read(65536):
            pass
    except (OSError, ValueError):
        return False
    return True


def make(host: str, port: int) -> BaseWSGIServer:
    """moto's app, as ``ThreadedMotoServer`` builds it, on a keep-alive threaded server (not started)."""
    app = DomainDispatcherApplication(create_backend_app)
    return make_server(host, port, app, threaded=True, request_handler=KeepAliveRequestHandler)
