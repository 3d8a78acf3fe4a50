"""Plugin: a web page in the user's browser cannot drive the local cloud.

The local cloud listens on 127.0.0.1 without authentication, so any page the user
opens could send it requests: an HTML form can POST a file to S3 (a browser-based
upload) and so start an execution. Browsers say where a request comes from, so
requests are refused (HTTP 403, a JSON message) when:

* the ``Origin`` header is not the server's own origin (``http://127.0.0.1:<port>``
  or ``http://localhost:<port>``: moto's own dashboard, ``/moto-api/``);
* or, with no ``Origin``, ``Sec-Fetch-Site`` says another site sent it (an image
  or a link: GET requests of the query APIs can change state too).

Clients that are not browsers (boto3, the AWS CLI, curl) send neither header and
are not affected.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from typing import Any
from urllib.parse import urlparse

from moto.moto_server.werkzeug_app import DomainDispatcherApplication

from sfn_workbench.localcloud import patches
from sfn_workbench.localcloud.context import LocalCloudContext

PATCH_TARGETS: tuple[patches.Target, ...] = ((DomainDispatcherApplication, "__call__"),)
#: ``Sec-Fetch-Site`` values of requests the user made here: this origin, or typed in the address bar.
OWN_FETCH_SITES = frozenset({"same-origin", "none"})


def own_origins(endpoint_url: str) -> frozenset[str]:
    port = urlparse(endpoint_url).port
    return frozenset({f"http://127.0.0.1:{port}", f"http://localhost:{port}"})


def refusal(environ: dict[str, Any], own: frozenset[str]) -> str | None:
    """Why a request is refused, or None when it is not a cross-site browser request."""
    origin = environ.get("HTTP_ORIGIN")
    if origin is not None:
        return None if origin in own else f"Origin {origin}"
    site = environ.get("HTTP_SEC_FETCH_SITE")
    return None if site is None or site in OWN_FETCH_SITES else f"Sec-Fetch-Site {site}"


def install(ctx: LocalCloudContext) -> None:
    own = own_origins(ctx.endpoint_url)
    patches.wrap(DomainDispatcherApplication, "__call__", lambda original: _guarded(original, own))


def _guarded(original: Callable[..., Iterable[bytes]], own: frozenset[str]) -> Callable[..., Iterable[bytes]]:
    def __call__(self: Any, environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        why = refusal(environ, own)
        if why is None:
            return original(self, environ, start_response)
        body = json.dumps(
            {
                "__type": "CrossOriginRequestRefused",
                "message": f"the local cloud refuses browser requests from other sites ({why}); "
                f"it accepts requests from {' or '.join(sorted(own))} and from clients that are not browsers",
            }
        ).encode()
        start_response("403 Forbidden", [("Content-Type", "application/json"), ("Content-Length", str(len(body)))])
        return [body]

    return __call__
