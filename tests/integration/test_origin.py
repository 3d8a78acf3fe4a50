"""A web page in the user's browser cannot drive the local cloud; boto3, the CLI and curl are unaffected."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
import uuid
from typing import Any

import pytest

from cloud_helpers import executions_of
from support import BUNDLE_DIR


def form_upload(endpoint: str, bucket: str, key: str, headers: dict[str, str]) -> tuple[int, bytes]:
    """What an HTML form on any page can send: S3's browser-based upload (POST Object), multipart."""
    boundary = uuid.uuid4().hex
    image = (BUNDLE_DIR / "reference" / "7_00017.png").read_bytes()
    body = (
        (
            f'--{boundary}\r\nContent-Disposition: form-data; name="key"\r\n\r\n{key}\r\n'
            f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="x.png"\r\n'
            "Content-Type: image/png\r\n\r\n"
        ).encode()
        + image
        + f"\r\n--{boundary}--\r\n".encode()
    )
    request = urllib.request.Request(
        f"{endpoint}/{bucket}", data=body, method="POST",
        headers={"Content-Type": f"multipart/form-data; boundary={boundary}", **headers},
    )  # fmt: skip
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


def exists(s3: Any, bucket: str, key: str) -> bool:
    return bool(s3.list_objects_v2(Bucket=bucket, Prefix=key).get("KeyCount", 0) > 0)


@pytest.mark.parametrize(
    "headers",
    [{"Origin": "http://evil.example"}, {"Origin": "null"}, {"Sec-Fetch-Site": "cross-site"}],
    ids=["other-origin", "opaque-origin", "cross-site-no-origin"],
)
def test_a_cross_site_form_post_is_refused_and_starts_nothing(cloud, s3, sfn, bucket, state_machine, headers) -> None:
    key = f"incoming/cross-site-{uuid.uuid4().hex[:6]}.png"
    status, body = form_upload(cloud.ctx.endpoint_url, bucket, key, headers)
    assert status == 403
    assert "refuses browser requests from other sites" in json.loads(body)["message"]
    time.sleep(0.5)
    assert not exists(s3, bucket, key)
    assert executions_of(sfn, state_machine, key) == []


def test_the_servers_own_origin_and_clients_without_one_are_served(cloud, s3, bucket) -> None:
    own = cloud.ctx.endpoint_url
    for headers in ({"Origin": own}, {"Origin": own, "Sec-Fetch-Site": "same-origin"}, {}):
        key = f"test/same-origin-{uuid.uuid4().hex[:6]}.png"  # test/: nothing is triggered
        status, _ = form_upload(own, bucket, key, headers)
        assert status == 204, headers
        assert exists(s3, bucket, key)
