"""S3 saved on stop and restored on start: small objects in one pack file, large ones a file each."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import boto3
from moto import mock_aws

from sfn_workbench.localcloud import s3_persistence
from sfn_workbench.localcloud.context import ACCOUNT_ID, REGION, LocalCloudContext

LARGE = bytes(range(256)) * (s3_persistence.PACKED_MAX_BYTES // 256 + 1)


def objects(s3: Any, bucket: str) -> dict[str, tuple[bytes, str, dict[str, str]]]:
    found = {}
    for item in s3.list_objects_v2(Bucket=bucket).get("Contents", []):
        got = s3.get_object(Bucket=bucket, Key=item["Key"])
        found[item["Key"]] = (got["Body"].read(), got["ETag"], got["Metadata"])
    return found


def restart(ctx: LocalCloudContext) -> None:
    """A new server: an empty S3, then what was saved."""
    from moto.s3.models import s3_backends

    s3_backends[ctx.account_id]["aws"].reset()
    s3_persistence.restore(ctx)


@mock_aws
def test_small_and_large_objects_come_back_byte_for_byte(tmp_path: Path) -> None:
    ctx = LocalCloudContext("http://127.0.0.1:1", tmp_path, account_id=ACCOUNT_ID, region=REGION)
    s3 = boto3.client("s3", region_name=REGION)
    s3.create_bucket(Bucket="images")
    for i in range(300):  # many small objects: one pack file, not 300 files
        s3.put_object(Bucket="images", Key=f"keys/{i:03d}.png", Body=b"" if i % 2 else f"png {i}".encode())
    s3.put_object(Bucket="images", Key="big.bin", Body=LARGE, Metadata={"origin": "test"})
    before = objects(s3, "images")

    saved = s3_persistence.save(ctx)
    assert (saved.objects, saved.bytes) == (301, sum(len(body) for body, _, _ in before.values()))
    stored = tmp_path / "s3" / "images"
    assert len(list((stored / "objects").iterdir())) == 1, "only the large object has a file of its own"
    assert (stored / s3_persistence.PACK_FILE).exists()

    restart(ctx)
    assert objects(s3, "images") == before

    s3.delete_object(Bucket="images", Key="big.bin")
    s3.put_object(Bucket="images", Key="keys/000.png", Body=b"changed")
    s3_persistence.save(ctx)
    assert not list((stored / "objects").iterdir()), "a deleted object's file goes"
    restart(ctx)
    after = objects(s3, "images")
    assert "big.bin" not in after
    assert after["keys/000.png"][0] == b"changed"
    assert len(after) == 300


@mock_aws
def test_a_truncated_pack_restores_what_it_holds_and_skips_the_rest(tmp_path: Path) -> None:
    ctx = LocalCloudContext("http://127.0.0.1:1", tmp_path, account_id=ACCOUNT_ID, region=REGION)
    s3 = boto3.client("s3", region_name=REGION)
    s3.create_bucket(Bucket="images")
    s3.put_object(Bucket="images", Key="a", Body=b"first")
    s3.put_object(Bucket="images", Key="b", Body=b"second")
    s3_persistence.save(ctx)
    pack = tmp_path / "s3" / "images" / s3_persistence.PACK_FILE
    pack.write_bytes(pack.read_bytes()[:-1])
    restart(ctx)
    assert set(objects(s3, "images")) == {"a"}
