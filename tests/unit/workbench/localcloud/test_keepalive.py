"""The keep-alive server: requests share a connection, and each one starts where the last ended."""

from __future__ import annotations

import http.client
import socket
import threading
from collections.abc import Iterable, Iterator
from typing import Any

import pytest
from werkzeug.serving import make_server

from sfn_workbench.localcloud import keepalive, levers


def app(environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
    """Echoes the client's port (the connection) and the body it read; ``/skip`` reads none of it."""
    path = environ["PATH_INFO"]
    if path == "/boom":
        raise RuntimeError("boom")
    body = b"" if path == "/skip" else environ["wsgi.input"].read()
    reply = f"{environ['REMOTE_PORT']} {path} {len(body)} {body[:20]!r}".encode()
    if path == "/stream":  # no Content-Length: chunked on HTTP/1.1
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [reply, b" more"]
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(len(reply)))])
    return [reply]


@pytest.fixture
def port() -> Iterator[int]:
    server = make_server("127.0.0.1", 0, app, threaded=True, request_handler=keepalive.KeepAliveRequestHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server.server_port
    server.shutdown()
    server.server_close()


def ask(conn: http.client.HTTPConnection, method: str, path: str, body: Any = None, **kw: Any) -> tuple[str, str]:
    conn.request(method, path, body=body, **kw)
    response = conn.getresponse()
    return response.read().decode(), str(response.getheader("Connection"))


def test_requests_share_one_connection_and_unread_bodies_are_drained(port: int) -> None:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    first, _ = ask(conn, "POST", "/a", body=b"x" * 100_000)
    skipped, _ = ask(conn, "POST", "/skip", body=b"GET /smuggled HTTP/1.1\r\n\r\n" * 100)
    chunked, _ = ask(conn, "POST", "/c", body=iter([b"ab", b"cd"]), encode_chunked=True)
    streamed, header = ask(conn, "GET", "/stream")
    last, _ = ask(conn, "GET", "/b")
    ports = {reply.split()[0] for reply in (first, skipped, chunked, streamed, last)}
    assert len(ports) == 1, "every request came on the same connection"
    assert first.split()[1:3] == ["/a", "100000"]
    assert skipped.split()[1:3] == ["/skip", "0"]
    assert chunked.split()[1:4] == ["/c", "4", "b'abcd'"]
    assert streamed.endswith(" more") and header == "None"
    assert last.split()[1:3] == ["/b", "0"], "the body /skip left unread was not taken for the next request"


@pytest.mark.parametrize("close", ["client asks", "HTTP/1.0"])
def test_the_connection_closes_when_the_client_asks_or_speaks_http_1_0(port: int, close: str) -> None:
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        request = (
            b"GET /a HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
            if close == "client asks"
            else b"GET /a HTTP/1.0\r\n\r\n"
        )
        sock.sendall(request)
        received = b""
        while chunk := sock.recv(65536):  # the server closes: recv ends
            received += chunk
    head, _, body = received.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200")
    assert b"Connection: close" in head
    assert body.split()[1] == b"/a"


def test_an_app_error_is_a_500_and_the_connection_closes(port: int) -> None:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    conn.request("GET", "/boom")
    response = conn.getresponse()
    response.read()
    assert response.status == 500
    assert response.getheader("Connection") == "close"


def test_the_levers_variable() -> None:
    assert levers.enabled({}) == set(levers.LEVERS)
    assert levers.enabled({levers.VARIABLE: "none"}) == set()
    assert levers.enabled({levers.VARIABLE: "keepalive, jsonpath"}) == {"keepalive", "jsonpath"}
    assert levers.enabled({levers.VARIABLE: levers.ISSUE_15_BASELINE}) == {"clients", "definitions", "modules"}
    with pytest.raises(levers.LeverError, match="unknown lever"):
        levers.enabled({levers.VARIABLE: "keepalive,turbo"})
