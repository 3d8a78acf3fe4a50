"""The ``lists`` speed lever: an ItemReader's listing read in the process is the one boto3 parses."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws

from sfn_workbench.localcloud.distributed_map_plugin import PAGE_KEYS, list_every_page, list_in_process

BUCKET = "listing-bucket"


@pytest.fixture
def s3() -> Iterator[Any]:
    with mock_aws():
        client = boto3.client("s3", region_name="us-east-1")
        client.create_bucket(Bucket=BUCKET)
        for i in range(PAGE_KEYS + 5):  # more than one page
            client.put_object(Bucket=BUCKET, Key=f"in/{i:05d}.png", Body=b"x" * (i % 7))
        client.put_object(Bucket=BUCKET, Key="out/elsewhere.png", Body=b"y", ChecksumAlgorithm="SHA256")
        yield client


@pytest.mark.parametrize("prefix", ["in/", "out/", "", "nothing/"])
def test_every_page_is_the_listing_boto3_parses(s3: Any, prefix: str) -> None:
    parameters = {"Bucket": BUCKET, "Prefix": prefix}
    direct = list_in_process(parameters)
    assert direct == list_every_page(s3, parameters)
    assert (
        direct is not None
        and len(direct) == {"in/": PAGE_KEYS + 5, "out/": 1, "": PAGE_KEYS + 6, "nothing/": 0}[prefix]
    )


def test_other_parameters_and_missing_buckets_take_the_http_route(s3: Any) -> None:
    assert list_in_process({"Bucket": BUCKET, "Prefix": "in/", "MaxKeys": 10}) is None
    assert list_in_process({"Bucket": "no-such-bucket", "Prefix": "in/"}) is None
