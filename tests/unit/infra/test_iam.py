"""Least privilege, checked on the translated template: every policy, every branch of every condition."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from sfn_workbench.template import apply_conditions, load_template, translate
from support import ROOT

TEMPLATE = ROOT / "infra" / "template.yaml"

#: Actions whose API takes no resource narrower than "*", so "*" is the least privilege.
STAR_ONLY_ACTIONS = {
    # X-Ray: trace segments and sampling have no resource-level permissions.
    "xray:PutTraceSegments",
    "xray:PutTelemetryRecords",
    "xray:GetSamplingRules",
    "xray:GetSamplingTargets",
    "xray:GetSamplingStatisticSummaries",
    # CloudWatch Logs delivery ("vended logs"): what Step Functions needs to log to a
    # log group; AWS documents these with Resource "*" only.
    "logs:CreateLogDelivery",
    "logs:GetLogDelivery",
    "logs:UpdateLogDelivery",
    "logs:DeleteLogDelivery",
    "logs:ListLogDeliveries",
    "logs:PutResourcePolicy",
    "logs:DescribeResourcePolicies",
    "logs:DescribeLogGroups",
    # ECR: the registry login token, before SageMaker pulls the (scoped) serving image.
    "ecr:GetAuthorizationToken",
}
#: AWS managed policies SAM attaches, with their contents, checked like inline ones.
KNOWN_MANAGED_POLICIES = {
    # Added by SAM for `Tracing: Enabled` on the state machine.
    "arn:aws:iam::aws:policy/AWSXrayWriteOnlyAccess": [
        {
            "Effect": "Allow",
            "Action": [
                "xray:PutTraceSegments",
                "xray:PutTelemetryRecords",
                "xray:GetSamplingRules",
                "xray:GetSamplingTargets",
                "xray:GetSamplingStatisticSummaries",
            ],
            "Resource": ["*"],
        }
    ],
}
POLICY_HOLDERS = {
    "AWS::IAM::Role": lambda p: [x["PolicyDocument"] for x in p.get("Policies", [])],
    "AWS::IAM::Policy": lambda p: [p["PolicyDocument"]],
    "AWS::IAM::ManagedPolicy": lambda p: [p["PolicyDocument"]],
    "AWS::S3::BucketPolicy": lambda p: [p["PolicyDocument"]],
    "AWS::SNS::TopicPolicy": lambda p: [p["PolicyDocument"]],
}


@pytest.fixture(scope="module")
def sam() -> dict[str, Any]:
    return load_template(TEMPLATE)


@pytest.fixture(scope="module")
def cfn(sam: dict[str, Any]) -> dict[str, Any]:
    translated, _ = translate(sam, TEMPLATE.parent)
    return translated


def deployed(sam: dict[str, Any], **parameters: str) -> dict[str, Any]:
    translated, _ = translate(sam, TEMPLATE.parent, parameters)
    return apply_conditions(translated, parameters)


def branches(node: Any) -> Iterator[Any]:
    """A value and, for Fn::If, both of its branches (so conditional grants are checked too)."""
    if isinstance(node, dict) and set(node) == {"Fn::If"}:
        _, then, otherwise = node["Fn::If"]
        yield from branches(then)
        yield from branches(otherwise)
    elif node != {"Ref": "AWS::NoValue"}:
        yield node


def as_list(value: Any) -> list[Any]:
    return [v for item in (value if isinstance(value, list) else [value]) for v in branches(item)]


def all_statements(cfn: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    """(where, statement) for every statement of every policy, managed policies expanded."""
    for logical_id, resource in cfn["Resources"].items():
        holder = POLICY_HOLDERS.get(resource["Type"])
        if holder is None:
            continue
        for document in holder(resource["Properties"]):
            for statement in as_list(document["Statement"]):
                yield logical_id, statement
        for arn in resource["Properties"].get("ManagedPolicyArns", []):
            for statement in KNOWN_MANAGED_POLICIES.get(arn, []):
                yield f"{logical_id} {arn}", statement


def role_statements(cfn: dict[str, Any], role: str) -> list[dict[str, Any]]:
    return [s for where, s in all_statements(cfn) if where.split()[0] == role]


def grants(statements: list[dict[str, Any]], action: str) -> list[Any]:
    """Every resource an Allow of this action names."""
    return [
        r
        for s in statements
        if s["Effect"] == "Allow" and action in as_list(s["Action"])
        for r in as_list(s["Resource"])
    ]


# ----------------------------------------------------------------- the rules
def test_no_wildcard_actions(cfn: dict[str, Any]) -> None:
    for where, statement in all_statements(cfn):
        # A Deny may be broad on purpose (the bucket's deny-non-TLS covers s3:*).
        if statement["Effect"] != "Allow":
            continue
        assert "NotAction" not in statement and "NotResource" not in statement, where
        for action in as_list(statement["Action"]):
            assert "*" not in action, f"{where}: wildcard action {action!r}"


def test_star_resources_only_for_apis_that_accept_nothing_narrower(cfn: dict[str, Any]) -> None:
    for where, statement in all_statements(cfn):
        if statement["Effect"] != "Allow" or "*" not in as_list(statement["Resource"]):
            continue
        broad = set(as_list(statement["Action"])) - STAR_ONLY_ACTIONS
        assert not broad, f"{where}: {sorted(broad)} on Resource '*'"


def test_managed_policies_are_known_and_never_full_access(cfn: dict[str, Any]) -> None:
    for logical_id, resource in cfn["Resources"].items():
        for arn in resource.get("Properties", {}).get("ManagedPolicyArns", []):
            assert isinstance(arn, str), f"{logical_id}: managed policy {arn} is not a plain ARN"
            assert not arn.endswith("FullAccess"), f"{logical_id} attaches {arn}"
            assert arn in KNOWN_MANAGED_POLICIES, f"{logical_id} attaches unreviewed {arn}"


def test_the_walk_sees_conditional_statements(cfn: dict[str, Any]) -> None:
    # Guards the tests above against passing because they saw nothing.
    actions = {a for _, s in all_statements(cfn) for a in as_list(s["Action"])}
    assert {"sagemaker:InvokeEndpoint", "s3:PutObject", "ecr:BatchGetImage", "lambda:InvokeFunction"} <= actions
    assert {"xray:GetSamplingRules", "sns:Publish", "states:StartExecution"} <= actions


# --------------------------------------------------------- per-function grants
INCOMING_AND_TEST = [{"Fn::Sub": "${ImageBucket.Arn}/${IncomingPrefix}*"}, {"Fn::Sub": "${ImageBucket.Arn}/test/*"}]


@pytest.mark.parametrize("backend", ["litert", "sagemaker"])
def test_functions_read_only_incoming_and_test_objects(sam: dict[str, Any], backend: str) -> None:
    cfn = deployed(sam, Backend=backend)
    for role in ("SerializeRole", "ClassifyRole"):
        statements = role_statements(cfn, role)
        assert grants(statements, "s3:GetObject") == INCOMING_AND_TEST
        s3_actions = {a for s in statements for a in as_list(s["Action"]) if a.startswith("s3:")}
        assert s3_actions <= {"s3:GetObject", "s3:PutObject", "s3:ListBucket"}, f"{role}: {s3_actions}"
        # Listing (key names only, so a missing key is a 404) is on the bucket itself, nothing wider.
        assert grants(statements, "s3:ListBucket") in ([], [{"Fn::GetAtt": ["ImageBucket", "Arn"]}])
    filter_actions = {a for s in role_statements(cfn, "FilterRole") for a in as_list(s["Action"])}
    assert filter_actions == {
        "logs:CreateLogStream",
        "logs:PutLogEvents",
        "xray:PutTraceSegments",
        "xray:PutTelemetryRecords",
    }


def test_functions_write_logs_only_to_their_own_log_group(sam: dict[str, Any]) -> None:
    cfn = deployed(sam)
    for name in ("Serialize", "Classify", "Filter", "Forda", "Iris"):
        statements = role_statements(cfn, f"{name}Role")
        assert grants(statements, "logs:PutLogEvents") == [{"Fn::GetAtt": [f"{name}LogGroup", "Arn"]}]
        assert grants(statements, "logs:CreateLogStream") == [{"Fn::GetAtt": [f"{name}LogGroup", "Arn"]}]
        function = cfn["Resources"][f"{name}Function"]["Properties"]
        assert function["LoggingConfig"]["LogGroup"] == {"Ref": f"{name}LogGroup"}
        assert "ManagedPolicyArns" not in cfn["Resources"][f"{name}Role"]["Properties"]


def test_classify_with_litert_writes_captures_and_invokes_no_endpoint(sam: dict[str, Any]) -> None:
    statements = role_statements(deployed(sam), "ClassifyRole")
    assert grants(statements, "s3:PutObject") == [{"Fn::Sub": "${ImageBucket.Arn}/captures/*"}]
    assert grants(statements, "sagemaker:InvokeEndpoint") == []


def test_classify_with_sagemaker_invokes_exactly_one_endpoint(sam: dict[str, Any]) -> None:
    created = role_statements(deployed(sam, Backend="sagemaker"), "ClassifyRole")
    assert grants(created, "sagemaker:InvokeEndpoint") == [{"Ref": "SageMakerEndpoint"}]
    assert grants(created, "s3:PutObject") == []  # the endpoint captures, not classify
    existing = role_statements(deployed(sam, Backend="sagemaker", ExistingEndpointName="prod-digits"), "ClassifyRole")
    assert grants(existing, "sagemaker:InvokeEndpoint") == [
        {"Fn::Sub": "arn:${AWS::Partition}:sagemaker:${AWS::Region}:${AWS::AccountId}:endpoint/${ExistingEndpointName}"}
    ]


def test_state_machine_invokes_only_its_three_functions(sam: dict[str, Any]) -> None:
    cfn = deployed(sam)
    statements = role_statements(cfn, "PipelineStateMachineRole")
    invoked = {r["Fn::Sub"][1]["functionName"]["Ref"] for r in grants(statements, "lambda:InvokeFunction")}
    assert invoked == {"SerializeFunction", "ClassifyFunction", "FilterFunction"}
    actions = {a for s in statements for a in as_list(s["Action"])}
    assert actions - {"lambda:InvokeFunction"} <= STAR_ONLY_ACTIONS
    role = cfn["Resources"]["PipelineStateMachine"]["Properties"]["RoleArn"]
    assert role == {"Fn::GetAtt": ["PipelineStateMachineRole", "Arn"]}


def test_report_relists_only_the_prefixes_a_batch_may_read(sam: dict[str, Any]) -> None:
    statements = role_statements(deployed(sam), "ReportRole")
    assert grants(statements, "s3:ListBucket") == [{"Fn::GetAtt": ["ImageBucket", "Arn"]}]
    [listing] = [s for s in statements if "s3:ListBucket" in as_list(s["Action"])]
    prefixes = listing["Condition"]["StringLike"]["s3:prefix"]
    assert prefixes == [{"Fn::Sub": "${IncomingPrefix}*"}, "test/*"], "the ItemReader's own prefixes"
    assert (
        grants(statements, "s3:GetObject")
        == grants(statements, "s3:PutObject")
        == [{"Fn::Sub": "${ImageBucket.Arn}/results/*"}]
    )


def test_sagemaker_model_role_reads_its_model_and_writes_only_captures(sam: dict[str, Any]) -> None:
    statements = role_statements(deployed(sam, Backend="sagemaker"), "SageMakerModelRole")
    [model] = grants(statements, "s3:GetObject")
    assert model["Fn::Sub"][0] == "arn:${AWS::Partition}:s3:::${ObjectPath}"
    assert model["Fn::Sub"][1]["ObjectPath"] == {"Fn::Select": [1, {"Fn::Split": ["s3://", {"Ref": "ModelDataUrl"}]}]}
    assert grants(statements, "s3:PutObject") == [{"Fn::Sub": "${ImageBucket.Arn}/captures/*"}]
    [logs] = grants(statements, "logs:PutLogEvents")
    assert logs["Fn::Sub"].endswith(":log-group:/aws/sagemaker/Endpoints/${AWS::StackName}-classifier:*")
    endpoint = deployed(sam, Backend="sagemaker")["Resources"]["SageMakerEndpoint"]["Properties"]
    assert endpoint["EndpointName"] == {"Fn::Sub": "${AWS::StackName}-classifier"}


def test_topic_accepts_only_these_alarms_and_this_rule(sam: dict[str, Any]) -> None:
    cfn = deployed(sam, AlarmEmail="ops@example.com")
    statements = cfn["Resources"]["AlarmTopicPolicy"]["Properties"]["PolicyDocument"]["Statement"]
    sources = {s["Principal"]["Service"]: s["Condition"]["ArnEquals"]["aws:SourceArn"] for s in statements}
    assert sources == {
        "cloudwatch.amazonaws.com": [
            {"Fn::GetAtt": ["ExecutionsFailedAlarm", "Arn"]},
            {"Fn::GetAtt": ["DriftAlarm", "Arn"]},
        ],
        "events.amazonaws.com": {"Fn::GetAtt": ["FailedExecutionRule", "Arn"]},
    }
    assert all(s["Action"] == "sns:Publish" and s["Resource"] == {"Ref": "AlarmTopic"} for s in statements)


def test_forda_and_iris_read_nothing_and_write_only_captures(sam: dict[str, Any]) -> None:
    cfn = deployed(sam)
    for role in ("FordaRole", "IrisRole"):
        statements = role_statements(cfn, role)
        assert grants(statements, "s3:PutObject") == [{"Fn::Sub": "${ImageBucket.Arn}/captures/*"}]
        assert not grants(statements, "s3:GetObject")
        actions = {a for s in statements for a in as_list(s["Action"])}
        assert actions == {
            "logs:CreateLogStream",
            "logs:PutLogEvents",
            "xray:PutTraceSegments",
            "xray:PutTelemetryRecords",
            "s3:PutObject",
        }
