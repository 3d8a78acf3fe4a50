"""Plugin: bucket policy conditions on the request's transport are evaluated, as S3 does.

moto skips condition operators it does not know (``Bool`` among them), so a
conditional Deny such as the template's TLS-only rule (``aws:SecureTransport``
false) denies every request. The local cloud listens on 127.0.0.1 only and its
traffic never leaves the machine: it evaluates transport conditions as S3 would
for a TLS request, and the rest of the policy stays in force as moto applies it.
"""

from __future__ import annotations

import functools
import json
from typing import Any

from moto.iam.access_control import IAMPolicy, PermissionResult
from moto.s3.models import FakeBucket

from sfn_workbench.localcloud import patches
from sfn_workbench.localcloud.context import LocalCloudContext

#: The request context the loopback transport presents to policy conditions.
LOOPBACK_CONTEXT = {"aws:securetransport": "true"}
_OPERATORS = {"Bool", "StringEquals", "StringEqualsIgnoreCase"}


def condition_holds(condition: dict[str, Any]) -> bool | None:
    """True or False when every operator and key is known locally; None to leave it to moto."""
    for operator, keys in condition.items():
        if operator not in _OPERATORS:
            return None
        for key, expected in keys.items():
            actual = LOOPBACK_CONTEXT.get(key.lower())
            if actual is None:
                return None
            allowed = [str(v).lower() for v in (expected if isinstance(expected, list) else [expected])]
            if actual not in allowed:
                return False
    return True


def get_permission(self: FakeBucket, action: str, resource: str) -> Any:
    if self.policy is None:
        return PermissionResult.NEUTRAL
    return loopback_policy(self.policy).is_action_permitted(action, resource)


@functools.lru_cache(maxsize=64)
def loopback_policy(policy: str | bytes) -> IAMPolicy:
    """The bucket policy as it applies to loopback requests: built once per policy document, not per
    request (an ``IAMPolicy`` only reads its document)."""
    document = json.loads(policy)
    statements = document["Statement"] if isinstance(document["Statement"], list) else [document["Statement"]]
    kept = []
    for statement in statements:
        holds = condition_holds(statement.get("Condition", {}))
        if holds is False:
            continue  # this request does not match the statement at all
        kept.append({k: v for k, v in statement.items() if not (holds and k == "Condition")})
    return IAMPolicy(json.dumps({**document, "Statement": kept}))


PATCH_TARGETS: tuple[patches.Target, ...] = ((FakeBucket, "get_permission"),)


def install(ctx: LocalCloudContext) -> None:
    patches.replace(FakeBucket, "get_permission", get_permission)
