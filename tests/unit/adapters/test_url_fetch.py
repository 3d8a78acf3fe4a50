"""The safe URL fetch: every SSRF route refused by name, limits enforced, allowed URLs fetched."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from image_server import IMAGE_DIRS, image_server
from sfn_inference.adapters.memory import InMemoryObjectStore
from sfn_inference.adapters.url_fetch import UrlFetcher, forbidden, resolve
from sfn_inference.core.errors import (
    ObjectNotFoundError,
    UrlFetchError,
    UrlRefusedError,
    UrlTimeoutError,
    UrlTooLargeError,
)
from sfn_inference.core.settings import UrlFetchConfig

TROUSER = (IMAGE_DIRS[0] / "trouser_00002.png").read_bytes()


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    with image_server() as address:
        yield address


def fetcher(allow: str = "", resolver: dict[str, list[str]] | None = None, **limits: str) -> UrlFetcher:
    env = {"URL_ALLOW_HOSTS": allow, **{f"URL_{k.upper()}": v for k, v in limits.items()}}
    config = UrlFetchConfig.from_env({**env, "AWS_LAMBDA_RUNTIME_API": limits.pop("runtime_api", "127.0.0.1:9001")})
    names = resolver or {}
    return UrlFetcher(config, InMemoryObjectStore(), resolver=lambda host, port: names.get(host) or resolve(host, port))


@pytest.mark.parametrize(
    ("address", "kind"),
    [
        ("127.0.0.1", "loopback"),
        ("::1", "loopback"),
        ("::ffff:127.0.0.1", "loopback"),
        ("169.254.169.254", "link-local"),
        ("fe80::1%eth0", "link-local"),
        ("10.1.2.3", "private"),
        ("192.168.0.10", "private"),
        ("172.16.0.1", "private"),
        ("fd00::1", "private"),
        ("0.0.0.0", "unspecified"),
        ("224.0.0.1", "multicast"),
        ("100.64.0.1", "non-public"),
        ("93.184.215.14", None),
        ("2606:4700::1111", None),
    ],
)
def test_addresses_that_are_not_public_are_named(address: str, kind: str | None) -> None:
    assert forbidden(address) == kind


@pytest.mark.parametrize(
    ("url", "match"),
    [
        ("file:///etc/passwd", "not file scheme"),
        ("gopher://example.com/", "not gopher scheme"),
        ("ftp://example.com/a.png", "not ftp scheme"),
        ("/relative/path.png", "not no scheme"),
        ("http://user:secret@example.com/a.png", "credentials"),
        ("http:///a.png", "names no host"),
        ("http://example.com:99999/a.png", "invalid port"),
        ("http://10.0.0.7/a.png", "10.0.0.7, a private address"),
        ("http://169.254.169.254/latest/meta-data/", "link-local"),
        ("http://[::1]/a.png", "loopback"),
        ("http://2130706433/a.png", "127.0.0.1, a loopback address"),  # 127.0.0.1 spelt as a number
        ("http://rebind.example/a.png", "127.0.0.1, a loopback address"),  # one good answer is not enough
        ("http://127.0.0.1:9001/2018-06-01/runtime/invocation/next", "Runtime API"),
        ("s3://only-a-bucket", "bucket and a key"),
    ],
)
def test_ssrf_routes_are_refused_by_name(url: str, match: str) -> None:
    names = {"rebind.example": ["93.184.215.14", "127.0.0.1"]}
    with pytest.raises(UrlRefusedError, match=match):
        fetcher(allow="127.0.0.1", resolver=names).fetch(url) if "9001" in url else fetcher(resolver=names).fetch(url)


def test_an_allow_listed_server_is_fetched_and_nothing_else_on_loopback(server: str) -> None:
    host, port = server.split(":")
    allowed = fetcher(allow=server)
    assert allowed.fetch(f"http://{server}/image/trouser_00002.png") == TROUSER
    with pytest.raises(UrlRefusedError, match="loopback"):
        allowed.fetch(f"http://localhost:{port}/image/trouser_00002.png")  # resolves to loopback, not allowed
    with pytest.raises(UrlRefusedError, match="loopback"):
        fetcher().fetch(f"http://{server}/image/trouser_00002.png")
    with pytest.raises(UrlRefusedError, match="Runtime API"):
        fetcher(allow=host, runtime_api=server).fetch(f"http://{server}/image/trouser_00002.png")


def test_the_connection_goes_to_the_checked_address_under_the_urls_host(server: str) -> None:
    port = server.split(":")[1]
    pinned = fetcher(allow=f"images.example:{port}", resolver={"images.example": ["127.0.0.1"]})
    assert pinned.fetch(f"http://images.example:{port}/host") == f"images.example:{port}".encode()


def test_redirects_are_checked_at_every_hop_and_limited(server: str) -> None:
    allowed = fetcher(allow=server)
    assert allowed.fetch(f"http://{server}/redirects/3") == TROUSER
    with pytest.raises(UrlFetchError, match="more than 3 redirects"):
        allowed.fetch(f"http://{server}/redirects/4")
    for target in ("http://10.0.0.1/x.png", "http://169.254.169.254/latest/meta-data/", "file:///etc/passwd"):
        with pytest.raises(UrlRefusedError):
            allowed.fetch(f"http://{server}/redirect?to={target}")


def test_sizes_over_the_cap_are_refused_while_reading(server: str) -> None:
    capped = fetcher(allow=server, max_bytes="1000")
    with pytest.raises(UrlTooLargeError, match="declares 5000 bytes"):
        capped.fetch(f"http://{server}/big?n=5000")
    with pytest.raises(UrlTooLargeError, match="more than the cap of 1000"):
        capped.fetch(f"http://{server}/stream?n=5000")
    assert len(capped.fetch(f"http://{server}/stream?n=1000")) == 1000


def test_stalls_and_slow_drips_time_out(server: str) -> None:
    quick = fetcher(allow=server, read_timeout_s="0.3", total_timeout_s="1")
    with pytest.raises(UrlTimeoutError, match=r"did not answer within 0\.3 s"):
        quick.fetch(f"http://{server}/stall?s=2")
    with pytest.raises(UrlTimeoutError, match="took over 1 s"):
        quick.fetch(f"http://{server}/drip?s=3")  # each read is quick; the whole is not


def test_http_errors_and_refused_connections_are_fetch_errors(server: str) -> None:
    allowed = fetcher(allow=f"{server},127.0.0.1:9")
    with pytest.raises(UrlFetchError, match="HTTP 404"):
        allowed.fetch(f"http://{server}/missing.png")
    with pytest.raises(UrlFetchError, match="cannot connect"):
        allowed.fetch("http://127.0.0.1:9/a.png")  # discard port: nothing listens
    with pytest.raises(UrlFetchError, match="cannot resolve"):
        fetcher().fetch("http://no-such-host.invalid/a.png")


def test_s3_urls_read_through_the_object_store() -> None:
    f = fetcher(max_bytes="1000")
    store = f.store
    assert isinstance(store, InMemoryObjectStore)
    store.put("bucket", "test/small.png", b"\x89PNG small", "image/png")
    store.put("bucket", "test/large.png", b"\0" * 1001, "image/png")
    assert f.fetch("s3://bucket/test/small.png") == b"\x89PNG small"
    with pytest.raises(UrlTooLargeError):
        f.fetch("s3://bucket/test/large.png")
    with pytest.raises(ObjectNotFoundError):
        f.fetch("s3://bucket/test/missing.png")


def test_an_s3_object_the_role_may_not_read_is_refused() -> None:
    class Denied(Exception):
        response = {"Error": {"Code": "AccessDenied", "Message": "Access Denied"}}  # noqa: RUF012

    class DeniedStore(InMemoryObjectStore):
        def head(self, bucket: str, key: str):  # type: ignore[no-untyped-def]
            raise Denied()

    f = fetcher()
    f.store = DeniedStore()
    with pytest.raises(UrlRefusedError, match="may not read"):
        f.fetch("s3://bucket/secret.png")
