"""Measure 6: exactly once at scale, a Distributed Map over a prefix of 10,000 keys.

S3 lists 1,000 keys a page; the batch must give every listed key exactly one row
in ``items.jsonl``, however many pages the listing takes. The keys are mostly
empty objects (serialize settles each on its HEAD, as ``EmptyObjectError``), with
the reference PNGs among them, so the figure is about the listing and the rows,
not the model. Skipped in ``--quick``: uploading 10,000 objects takes half a minute.
"""

from __future__ import annotations

import json
import time
import uuid
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from bench.common import REFERENCE, Settings
from bench.pipeline import wait_terminal

KEYS = 10_000
#: Keys per child workflow: 40 children for 10,000 keys.
BATCH_SIZE = 256


def seed(s3: Any, bucket: str, prefix: str) -> set[str]:
    pngs = sorted(REFERENCE.glob("*.png"))
    objects = {f"{prefix}{i:05d}-{p.name}": p.read_bytes() for i, p in enumerate(pngs)}
    objects |= {f"{prefix}{i:05d}.png": b"" for i in range(len(objects), KEYS)}
    with ThreadPoolExecutor(max_workers=8) as pool:
        list(pool.map(lambda kv: s3.put_object(Bucket=bucket, Key=kv[0], Body=kv[1]), objects.items()))
    return set(objects)


def measure(settings: Settings, cloud: Any) -> dict[str, Any]:
    if settings.quick:
        return {"status": "skipped", "reason": f"--quick does not upload {KEYS:,} objects"}
    outputs = cloud.stack("sfn-inference")["outputs"]
    bucket, arn = outputs["BucketName"], outputs["BatchStateMachineArn"]
    s3, sfn = cloud.client("s3"), cloud.client("stepfunctions")
    prefix = f"test/bench-keys-{uuid.uuid4().hex[:6]}/"
    started = time.monotonic()
    keys = seed(s3, bucket, prefix)
    upload_s = time.monotonic() - started
    request = {"bucket": bucket, "prefix": prefix, "batch_size": BATCH_SIZE}
    execution_arn = sfn.start_execution(stateMachineArn=arn, input=json.dumps(request))["executionArn"]
    [execution] = wait_terminal(sfn, arn, [execution_arn], 900)
    figures: dict[str, Any] = {
        "keys": len(keys),
        "batch_size": BATCH_SIZE,
        "upload_s": upload_s,
        "execution_status": execution["status"],
        "span_s": (execution["stopDate"] - execution["startDate"]).total_seconds() if "stopDate" in execution else None,
    }
    if execution["status"] != "SUCCEEDED":
        return {"status": "error", "reason": f"{execution.get('error')}: {(execution.get('cause') or '')[:300]}",
                **figures}  # fmt: skip
    summary = json.loads(execution["output"])
    body = s3.get_object(Bucket=bucket, Key=summary["items_key"])["Body"].read().decode()
    rows = [json.loads(line)["key"] for line in body.splitlines()]
    counts = Counter(rows)
    return {
        "status": "ok",
        **figures,
        "rows": len(rows),
        "lost": len(keys - counts.keys()),
        "duplicated": sum(n - 1 for n in counts.values() if n > 1),
        "unexpected": len(counts.keys() - keys),
        "summary_items": summary["items"],
    }
