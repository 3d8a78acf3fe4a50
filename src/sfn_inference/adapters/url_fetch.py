"""Fetch the image a request names by URL, without letting the URL reach what it must not.

The course's version called ``urlopen(url)``: any scheme (``file:///etc/passwd``), any host
(the instance metadata at 169.254.169.254, Lambda's own Runtime API), no timeout and no
size cap. Here, for ``http`` and ``https``:

1. the host is resolved, and every address it resolves to must be a public one (not
   loopback, private, link-local, shared, reserved, multicast or unspecified), unless the
   host (or ``host:port``) is on the configured allow-list; Lambda's Runtime API never is;
2. the connection goes to the address that was checked, so a second DNS answer cannot
   swap it (the Host header and the TLS server name stay the URL's host);
3. a redirect is followed at most ``max_redirects`` times, each hop checked again;
4. connecting, each read, and the whole fetch have time limits well under API Gateway's 30 s;
5. the body is counted while it is read and refused past ``max_bytes``.

``s3://bucket/key`` is read through the object store, so the function's role decides.
Stdlib only: http.client, socket, ssl, ipaddress.
"""

from __future__ import annotations

import http.client
import ipaddress
import socket
import ssl
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import SplitResult, urljoin, urlsplit

from sfn_inference.adapters.aws_errors import error_code
from sfn_inference.core.errors import (
    ObjectNotFoundError,
    UrlFetchError,
    UrlRefusedError,
    UrlTimeoutError,
    UrlTooLargeError,
)
from sfn_inference.core.ports import ObjectStore
from sfn_inference.core.settings import UrlFetchConfig

Resolver = Callable[[str, int], list[str]]
REDIRECTS = frozenset({301, 302, 303, 307, 308})
DENIED_CODES = frozenset({"AccessDenied", "403", "Forbidden", "AllAccessDisabled"})
CHUNK = 64 * 1024
USER_AGENT = "sfn-inference-url-fetch/1"


def resolve(host: str, port: int) -> list[str]:
    """Every address ``host`` resolves to, in the resolver's order, without duplicates."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, proto=socket.IPPROTO_TCP)
    except (socket.gaierror, UnicodeError) as exc:
        raise UrlFetchError(f"cannot resolve {host}: {exc}") from None
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


def forbidden(address: str) -> str | None:
    """Why an address may not be fetched (``"loopback"``, ``"link-local"``, ...), or None when public."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped  # ::ffff:127.0.0.1 is 127.0.0.1
    for kind in ("loopback", "link_local", "unspecified", "multicast", "private", "reserved"):
        if getattr(ip, f"is_{kind}"):
            return kind.replace("_", "-")
    return None if ip.is_global else "non-public"


@dataclass(frozen=True)
class _Target:
    url: str
    scheme: str
    host: str
    port: int
    addresses: list[str]
    request_target: str  # path and query, as sent in the request line


class UrlFetcher:
    """``fetch(url) -> bytes`` under the limits of a :class:`UrlFetchConfig`."""

    def __init__(
        self,
        config: UrlFetchConfig,
        store: ObjectStore,
        *,
        resolver: Resolver = resolve,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.config = config
        self.store = store
        self._resolve = resolver
        self._clock = clock
        self._allowed = config.allowed

    def fetch(self, url: str) -> bytes:
        parts = _split(url)
        if parts.scheme == "s3":
            return self._from_store(parts)
        deadline = self._clock() + self.config.total_timeout_s
        for _ in range(self.config.max_redirects + 1):
            target = self.check(url)
            data, location = self._get(target, deadline)
            if location is None:
                return data
            url = urljoin(url, location)
        raise UrlFetchError(f"more than {self.config.max_redirects} redirects")

    # --- what may be fetched ---------------------------------------------------------------------
    def check(self, url: str) -> _Target:
        """Refuse a URL by name (UrlRefusedError) before any connection is made."""
        parts = _split(url)
        if parts.scheme not in ("http", "https"):
            raise UrlRefusedError(f"only http, https and s3 URLs are fetched, not {parts.scheme or 'no'} scheme")
        if parts.username is not None or parts.password is not None:
            raise UrlRefusedError("URLs with credentials in them are refused")
        host = (parts.hostname or "").rstrip(".")
        if not host:
            raise UrlRefusedError(f"{url!r} names no host")
        try:
            port = parts.port or (443 if parts.scheme == "https" else 80)
        except ValueError:
            raise UrlRefusedError(f"{url!r} has an invalid port") from None
        addresses = self._resolve(host, port)
        if not addresses:
            raise UrlFetchError(f"{host} resolves to no address")
        if self._is_runtime_api(host, port, addresses):
            raise UrlRefusedError(f"{host}:{port} is Lambda's Runtime API")
        if (host, port) not in self._allowed and (host, None) not in self._allowed:
            for address in addresses:
                kind = forbidden(address)
                if kind is not None:
                    raise UrlRefusedError(f"{host} resolves to {address}, a {kind} address")
        request_target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        return _Target(url, parts.scheme, host, port, addresses, request_target)

    def _is_runtime_api(self, host: str, port: int, addresses: list[str]) -> bool:
        api_host, _, api_port = self.config.runtime_api.rpartition(":")
        if not api_host or not api_port.isdigit() or int(api_port) != port:
            return False
        return api_host.strip("[]") in {host, *addresses}

    # --- fetching --------------------------------------------------------------------------------
    def _get(self, target: _Target, deadline: float) -> tuple[bytes, str | None]:
        connection = self._connect(target, deadline)
        try:
            connection.request(
                "GET",
                target.request_target,
                headers={"User-Agent": USER_AGENT, "Accept": "image/png, image/jpeg, */*;q=0.1", "Connection": "close"},
            )
            self._set_timeout(connection, deadline, "the response")
            response = connection.getresponse()
            if response.status in REDIRECTS:
                location = response.getheader("Location")
                if not location:
                    raise UrlFetchError(f"{target.host} answered {response.status} without a Location")
                return b"", location
            if response.status != 200:
                raise UrlFetchError(f"{target.host} answered HTTP {response.status} {response.reason}")
            return self._read(connection, response, target, deadline), None
        except TimeoutError:
            raise UrlTimeoutError(
                f"{target.host} did not answer within {self.config.read_timeout_s:g} s "
                f"(the whole fetch may take {self.config.total_timeout_s:g} s)"
            ) from None
        except (OSError, http.client.HTTPException) as exc:
            raise UrlFetchError(f"fetching from {target.host} failed: {type(exc).__name__}: {exc}") from None
        finally:
            connection.close()

    def _connect(self, target: _Target, deadline: float) -> http.client.HTTPConnection:
        """A connection to the first checked address that accepts one."""
        errors = []
        for address in target.addresses:
            timeout = min(self.config.connect_timeout_s, deadline - self._clock())
            if timeout <= 0:
                break
            connection = _pinned(target, address, timeout)
            try:
                connection.connect()
                return connection
            except TimeoutError:
                errors.append(f"{address}: no connection within {timeout:.3g} s")
            except (OSError, http.client.HTTPException) as exc:  # ssl.SSLError is an OSError
                errors.append(f"{address}: {exc}")
            connection.close()
        if errors and all("no connection within" in e for e in errors):
            raise UrlTimeoutError(f"cannot connect to {target.host}: {'; '.join(errors)}")
        raise UrlFetchError(f"cannot connect to {target.host}: {'; '.join(errors) or 'out of time'}")

    def _read(
        self,
        connection: http.client.HTTPConnection,
        response: http.client.HTTPResponse,
        target: _Target,
        deadline: float,
    ) -> bytes:
        cap = self.config.max_bytes
        declared = response.getheader("Content-Length")
        if declared and declared.isdigit() and int(declared) > cap:
            raise UrlTooLargeError(f"{target.host} declares {declared} bytes, over the cap of {cap}")
        chunks: list[bytes] = []
        size = 0
        while True:
            self._set_timeout(connection, deadline, "the body")
            chunk = response.read1(CHUNK)
            if not chunk:
                return b"".join(chunks)
            size += len(chunk)
            if size > cap:
                raise UrlTooLargeError(f"{target.host} sent more than the cap of {cap} bytes")
            chunks.append(chunk)

    def _set_timeout(self, connection: http.client.HTTPConnection, deadline: float, what: str) -> None:
        left = deadline - self._clock()
        if left <= 0:
            raise UrlTimeoutError(f"the fetch took over {self.config.total_timeout_s:g} s, waiting for {what}")
        if connection.sock is not None:
            connection.sock.settimeout(min(self.config.read_timeout_s, left))

    # --- s3:// -----------------------------------------------------------------------------------
    def _from_store(self, parts: SplitResult) -> bytes:
        bucket, key = parts.netloc, parts.path.lstrip("/")
        if not bucket or not key:
            raise UrlRefusedError("an s3 URL names a bucket and a key: s3://bucket/key")
        try:
            info = self.store.head(bucket, key)
            if info.size > self.config.max_bytes:
                raise UrlTooLargeError(
                    f"s3://{bucket}/{key} is {info.size} bytes, over the cap of {self.config.max_bytes}"
                )
            return self.store.get(bucket, key)
        except (ObjectNotFoundError, UrlTooLargeError):
            raise
        except Exception as exc:
            code = error_code(exc)
            if code in DENIED_CODES:
                raise UrlRefusedError(f"this function may not read s3://{bucket}/{key} ({code})") from None
            if code is None:
                raise
            raise UrlFetchError(f"reading s3://{bucket}/{key} failed: {code}") from None


def _split(url: str) -> SplitResult:
    try:
        parts = urlsplit(url.strip())
    except ValueError as exc:
        raise UrlRefusedError(f"{url!r} is not a URL: {exc}") from None
    return parts._replace(scheme=parts.scheme.lower())


def _pinned(target: _Target, address: str, timeout: float) -> http.client.HTTPConnection:
    """A connection whose Host header and TLS server name are the URL's host, but whose socket
    goes to ``address``, the address that was checked."""
    connection: http.client.HTTPConnection
    if target.scheme == "https":
        connection = http.client.HTTPSConnection(
            target.host, target.port, timeout=timeout, context=ssl.create_default_context()
        )
    else:
        connection = http.client.HTTPConnection(target.host, target.port, timeout=timeout)

    def create_connection(_: Any, timeout: float | None = None, source_address: Any = None) -> socket.socket:
        return socket.create_connection((address, target.port), timeout, source_address)

    connection._create_connection = create_connection  # type: ignore[attr-defined]
    return connection
