"""A loopback HTTP server for URL-fetch tests: images, redirects, stalls, oversized bodies.

/image/<name>            a reference PNG of models/fashion (or models/digits)
/redirect?to=<url>       302 to <url>            /redirects/<n>   a chain of n redirects, then an image
/stall?s=<seconds>       headers only after <seconds>
/drip?s=<seconds>        a byte every 0.2 s for <seconds>
/big?n=<bytes>           a declared Content-Length of <bytes>, sent in full
/stream?n=<bytes>        <bytes> without Content-Length (read to the end of the connection)
/host                    the Host header it was sent, as text
anything else            404
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

ROOT = Path(__file__).resolve().parents[1]
IMAGE_DIRS = (ROOT / "models" / "fashion" / "reference", ROOT / "models" / "digits" / "reference")


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.0"  # one request per connection: a stalled one never blocks the next

    def log_message(self, format: str, *args: object) -> None:
        pass

    def _send(self, status: int, body: bytes, content_type: str = "image/png", length: int | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body) if length is None else length))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self) -> None:
        parts = urlsplit(self.path)
        query = {k: v[0] for k, v in parse_qs(parts.query).items()}
        path = parts.path
        if path.startswith("/image/"):
            found = [
                d / path.removeprefix("/image/") for d in IMAGE_DIRS if (d / path.removeprefix("/image/")).is_file()
            ]
            self._send(200, found[0].read_bytes()) if found else self._send(404, b"no such image", "text/plain")
        elif path == "/redirect":
            self.send_response(302)
            self.send_header("Location", query["to"])
            self.send_header("Content-Length", "0")
            self.end_headers()
        elif path.startswith("/redirects/"):
            left = int(path.rsplit("/", 1)[1])
            self.send_response(302)
            self.send_header("Location", f"/redirects/{left - 1}" if left > 1 else "/image/trouser_00002.png")
            self.send_header("Content-Length", "0")
            self.end_headers()
        elif path == "/stall":
            time.sleep(float(query.get("s", "3")))
            self._send(200, b"late")
        elif path == "/drip":
            self.send_response(200)
            self.send_header("Content-Type", "image/png")
            self.end_headers()
            ends = time.monotonic() + float(query.get("s", "3"))
            while time.monotonic() < ends:
                self.wfile.write(b"x")
                self.wfile.flush()
                time.sleep(0.2)
        elif path == "/big":
            self._send(200, b"\x89PNG\r\n\x1a\n".ljust(int(query["n"]), b"\0"))
        elif path == "/stream":
            self.send_response(200)
            self.send_header("Content-Type", "image/png")
            self.end_headers()
            self.wfile.write(b"\x89PNG\r\n\x1a\n".ljust(int(query["n"]), b"\0"))
        elif path == "/host":
            self._send(200, str(self.headers.get("Host")).encode(), "text/plain")
        else:
            self._send(404, b"not found", "text/plain")


class _Server(ThreadingHTTPServer):
    daemon_threads = True


@contextmanager
def image_server() -> Iterator[str]:
    """Serve on 127.0.0.1 (a free port) for the block; yields ``host:port``."""
    server = _Server(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=server.serve_forever, name="image-server", daemon=True)
    thread.start()
    try:
        host, port = server.server_address[:2]
        yield f"{host!s}:{port}"
    finally:
        server.shutdown()
        server.server_close()
