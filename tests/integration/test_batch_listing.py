"""A batch over a prefix of more than 1,000 keys: S3 lists 1,000 per page, every page gets its rows."""

from __future__ import annotations

import json
import uuid
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from cloud_helpers import function_name, wait_terminal
from support import BUNDLE_DIR

REFERENCE = BUNDLE_DIR / "reference"
#: More than two of S3's 1,000-key pages, so the third page is partial.
KEYS = 2_050


def put_many(s3: Any, bucket: str, objects: dict[str, bytes]) -> None:
    with ThreadPoolExecutor(max_workers=8) as pool:
        list(pool.map(lambda kv: s3.put_object(Bucket=bucket, Key=kv[0], Body=kv[1]), objects.items()))


def test_a_prefix_over_two_thousand_keys_gets_one_row_per_key(s3, sfn, bucket, stack) -> None:
    prefix = f"test/many-{uuid.uuid4().hex[:6]}/"
    pngs = sorted(REFERENCE.glob("*.png"))
    objects = {f"{prefix}{i:05d}-{p.name}": p.read_bytes() for i, p in enumerate(pngs)}
    objects |= {f"{prefix}{i:05d}.txt": b"not an image" for i in range(len(objects), 50)}
    # Empty objects fill the listing cheaply (serialize settles each on its HEAD).
    objects |= {f"{prefix}{i:05d}.png": b"" for i in range(len(objects), KEYS)}
    put_many(s3, bucket, objects)

    request = {"bucket": bucket, "prefix": prefix, "batch_size": 256}
    arn = sfn.start_execution(stateMachineArn=stack["outputs"]["BatchStateMachineArn"], input=json.dumps(request))
    described = wait_terminal(sfn, arn["executionArn"], timeout_s=300)
    assert described["status"] == "SUCCEEDED", described.get("cause")
    summary = json.loads(described["output"])
    body = s3.get_object(Bucket=bucket, Key=summary["items_key"])["Body"].read().decode()
    keys = [json.loads(line)["key"] for line in body.splitlines()]
    assert len(keys) == len(set(keys)) == summary["items"] == KEYS, "one row per listed key, none twice"
    assert set(keys) == set(objects)
    assert summary["errors"] == {"NotAnImageError": 50 - len(pngs), "EmptyObjectError": KEYS - 50}
    assert summary["outcomes"]["confident"] + summary["outcomes"]["low_confidence"] == len(pngs)


def test_the_report_step_fails_loudly_when_a_listed_key_has_no_row(cloud, s3, bucket, stack) -> None:
    """The independent check, on the deployed report function: its rows against a fresh listing."""
    prefix = f"test/lost-{uuid.uuid4().hex[:6]}/"
    put_many(s3, bucket, {f"{prefix}{i}.png": b"" for i in range(3)})
    results = f"results/lost-{uuid.uuid4().hex[:6]}/"
    rows = [{"key": f"{prefix}0.png", "outcome": "error", "error": "EmptyObjectError"}]
    s3.put_object(Bucket=bucket, Key=f"{results}m/SUCCEEDED_0.json",
                  Body=json.dumps([{"Status": "SUCCEEDED", "Output": json.dumps({"rows": rows})}]))  # fmt: skip
    manifest = {"ResultFiles": {"SUCCEEDED": [{"Key": f"{results}m/SUCCEEDED_0.json"}]}}
    s3.put_object(Bucket=bucket, Key=f"{results}m/manifest.json", Body=json.dumps(manifest))
    event = {"bucket": bucket, "prefix": prefix, "results_prefix": results,
             "map": {"ResultWriterDetails": {"Bucket": bucket, "Key": f"{results}m/manifest.json"}}}  # fmt: skip
    response = cloud.client("lambda").invoke(
        FunctionName=function_name(stack, "ReportFunction"), Payload=json.dumps(event)
    )
    error = json.loads(response["Payload"].read())
    assert response.get("FunctionError") == "Unhandled"
    assert error["errorType"] == "BatchIncompleteError"
    assert f"2 key(s) under s3://{bucket}/{prefix} have no row" in error["errorMessage"]
