"""Bucket policies as they apply to the loopback transport, built once per document."""

from __future__ import annotations

import json

from moto.iam.access_control import PermissionResult

from sfn_workbench.localcloud.s3_plugin import loopback_policy

ARN = "arn:aws:s3:::bucket/key"
TLS_ONLY = {"Effect": "Deny", "Principal": "*", "Action": "s3:*", "Resource": "arn:aws:s3:::bucket/*",
            "Condition": {"Bool": {"aws:SecureTransport": "false"}}}  # fmt: skip
NO_DELETE = {"Effect": "Deny", "Principal": "*", "Action": "s3:DeleteObject", "Resource": "arn:aws:s3:::bucket/*"}


def test_the_tls_only_deny_does_not_apply_and_other_statements_do() -> None:
    policy = json.dumps({"Version": "2012-10-17", "Statement": [TLS_ONLY, NO_DELETE]})
    assert loopback_policy(policy).is_action_permitted("s3:GetObject", ARN) == PermissionResult.NEUTRAL
    assert loopback_policy(policy).is_action_permitted("s3:DeleteObject", ARN) == PermissionResult.DENIED


def test_one_document_is_built_once() -> None:
    policy = json.dumps({"Version": "2012-10-17", "Statement": NO_DELETE})
    assert loopback_policy(policy) is loopback_policy(policy)
    assert loopback_policy(policy) is not loopback_policy(policy + " ")
