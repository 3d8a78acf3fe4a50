"""infra/template.yaml: it lints, it translates offline, and it says what the project promises."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from cfnlint.api import lint_file

from sfn_inference.datacapture.logstream import FILTER_PATTERN
from sfn_workbench.localcloud.context import LocalCloudContext
from sfn_workbench.localcloud.deploy import Deployer
from sfn_workbench.template import apply_conditions, conditions, load_template, resolver, translate
from support import ROOT

TEMPLATE = ROOT / "infra" / "template.yaml"
#: What the local cloud can deploy (sfn_workbench.localcloud.deploy); AWS deploys anything.
#: What the local cloud's deployer can create: asked of the deployer, not listed again here.
LOCAL_CLOUD_TYPES = set(Deployer(LocalCloudContext("http://127.0.0.1:1", Path("."))).resource_types())
SAGEMAKER = ("SageMakerModelRole", "SageMakerModel", "SageMakerEndpointConfig", "SageMakerEndpoint")
#: cfn-lint warnings that point at real mistakes: intrinsic functions and conditions
#: (W1xxx, e.g. a Ref to a resource that may not exist) and unused parameters.
FAILING_WARNINGS = re.compile(r"^W1\d{3}$|^W2001$")


@pytest.fixture(scope="module")
def sam() -> dict[str, Any]:
    return load_template(TEMPLATE)


def deployed(sam: dict[str, Any], **parameters: str) -> dict[str, Any]:
    """The CloudFormation that would be deployed with these parameter values."""
    cfn, _ = translate(sam, TEMPLATE.parent, parameters)
    return apply_conditions(cfn, parameters)


def statements(role: dict[str, Any]) -> list[dict[str, Any]]:
    return [s for p in role["Properties"].get("Policies", []) for s in p["PolicyDocument"]["Statement"]]


def env(cfn: dict[str, Any], function: str) -> dict[str, Any]:
    variables: dict[str, Any] = cfn["Resources"][function]["Properties"]["Environment"]["Variables"]
    return variables


# ----------------------------------------------------------------------- lint
def test_cfn_lint_passes() -> None:
    matches = lint_file(TEMPLATE)
    failing = [m for m in matches if m.rule.id.startswith("E") or FAILING_WARNINGS.match(m.rule.id)]
    assert not failing, "\n".join(str(m) for m in failing)


def test_the_deploy_template_written_by_make_package_lints_too(tmp_path: Path) -> None:
    from sfn_workbench.build import functions, write_deploy_template

    zips = {f: tmp_path / f"{f}.zip" for f in functions()}
    path = write_deploy_template(tmp_path / "template.json", zips)
    template = json.loads(path.read_text())
    codes = {k: v["Properties"]["CodeUri"] for k, v in template["Resources"].items() if "CodeUri" in v["Properties"]}
    sources = {
        k: v["Properties"]["CodeUri"]
        for k, v in load_template(TEMPLATE)["Resources"].items()
        if "CodeUri" in v["Properties"]
    }
    assert codes == {k: f"{(TEMPLATE.parent / v).resolve().name}.zip" for k, v in sources.items()}
    assert {"SerializeFunction": "serialize.zip", "ClassifyFunction": "classify.zip"}.items() <= codes.items()
    definition = template["Resources"]["PipelineStateMachine"]["Properties"]["DefinitionUri"]
    assert (tmp_path / definition).resolve() == ROOT / "statemachine" / "pipeline.asl.json"
    assert not [m for m in lint_file(path) if m.rule.id.startswith("E")]


# ------------------------------------------------------------------ translate
@pytest.mark.parametrize("backend", ["litert", "sagemaker"])
def test_translates_offline_to_plain_cloudformation(sam: dict[str, Any], backend: str) -> None:
    cfn, code_dirs = translate(sam, TEMPLATE.parent, {"Backend": backend})
    assert "Transform" not in cfn
    types = {r["Type"] for r in cfn["Resources"].values()}
    assert not {t for t in types if t.startswith("AWS::Serverless::")}
    assert types <= LOCAL_CLOUD_TYPES, f"the local cloud cannot deploy {types - LOCAL_CLOUD_TYPES}"
    assert {
        "SerializeFunction": ROOT / "functions" / "serialize",
        "ClassifyFunction": ROOT / "functions" / "classify",
        "FilterFunction": ROOT / "functions" / "filter",
    }.items() <= code_dirs.items()
    assert set(code_dirs) == {k for k, v in sam["Resources"].items() if v["Type"] == "AWS::Serverless::Function"}
    assert all((d / "app.py").is_file() for d in code_dirs.values())
    # Overrides reach the translator only; deployers apply them to the defaults.
    assert cfn["Parameters"]["Backend"]["Default"] == "litert"
    assert sam["Resources"]["ClassifyFunction"]["Properties"]["CodeUri"] == "../functions/classify/"


def test_translate_works_without_any_aws_configuration(sam: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("AWS_REGION", "AWS_DEFAULT_REGION", "AWS_PROFILE", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", "/nonexistent")
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent")
    cfn, _ = translate(sam, TEMPLATE.parent)
    assert "PipelineStateMachine" in cfn["Resources"]


def test_which_resources_exist_per_backend(sam: dict[str, Any]) -> None:
    litert = deployed(sam)
    created = deployed(sam, Backend="sagemaker")
    existing = deployed(sam, Backend="sagemaker", ExistingEndpointName="my-endpoint")
    assert not set(SAGEMAKER) & set(litert["Resources"])
    assert set(SAGEMAKER) <= set(created["Resources"])
    assert not set(SAGEMAKER) & set(existing["Resources"])
    assert env(litert, "ClassifyFunction")["ENDPOINT_NAME"] == ""
    assert env(created, "ClassifyFunction")["ENDPOINT_NAME"] == {"Fn::GetAtt": ["SageMakerEndpoint", "EndpointName"]}
    assert env(existing, "ClassifyFunction")["ENDPOINT_NAME"] == {"Ref": "ExistingEndpointName"}
    assert existing["Outputs"]["EndpointName"]["Value"] == {"Ref": "ExistingEndpointName"}
    assert litert["Outputs"]["EndpointName"]["Value"] == ""


def test_a_created_endpoint_requires_its_image_and_model(sam: dict[str, Any]) -> None:
    rule = sam["Rules"]["SageMakerEndpointInputs"]
    guarded = {a["Assert"]["Fn::Not"][0]["Fn::Equals"][0]["Ref"] for a in rule["Assertions"]}
    assert guarded == {"ServingImageUri", "ModelDataUrl"}
    assert rule["RuleCondition"] == {
        "Fn::And": [
            {"Fn::Equals": [{"Ref": "Backend"}, "sagemaker"]},
            {"Fn::Equals": [{"Ref": "ExistingEndpointName"}, ""]},
        ]
    }


# --------------------------------------------------------------------- bucket
def test_bucket_is_private_encrypted_tls_only_and_expires_captures(sam: dict[str, Any]) -> None:
    cfn = deployed(sam)
    bucket = cfn["Resources"]["ImageBucket"]["Properties"]
    assert bucket["NotificationConfiguration"]["EventBridgeConfiguration"]["EventBridgeEnabled"] is True
    [encryption] = bucket["BucketEncryption"]["ServerSideEncryptionConfiguration"]
    assert encryption["ServerSideEncryptionByDefault"]["SSEAlgorithm"] == "AES256"
    assert set(bucket["PublicAccessBlockConfiguration"].values()) == {True}
    assert len(bucket["PublicAccessBlockConfiguration"]) == 4
    rules = {r["Id"]: r for r in bucket["LifecycleConfiguration"]["Rules"]}
    assert rules["ExpireCaptures"]["Prefix"] == "captures/"
    assert rules["ExpireCaptures"]["ExpirationInDays"] == {"Ref": "CaptureRetentionDays"}
    assert cfn["Parameters"]["CaptureRetentionDays"]["Default"] == 90

    policy = cfn["Resources"]["ImageBucketPolicy"]["Properties"]
    assert policy["Bucket"] == {"Ref": "ImageBucket"}
    [deny] = policy["PolicyDocument"]["Statement"]
    assert deny["Effect"] == "Deny" and deny["Principal"] == "*" and deny["Action"] == "s3:*"
    assert deny["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
    assert deny["Resource"] == [{"Fn::GetAtt": ["ImageBucket", "Arn"]}, {"Fn::Sub": "${ImageBucket.Arn}/*"}]


# ------------------------------------------------------------------ functions
def test_functions_share_runtime_tracing_powertools_and_have_own_log_groups(sam: dict[str, Any]) -> None:
    cfn = deployed(sam)
    for name in ("SerializeFunction", "ClassifyFunction", "FilterFunction", "FordaFunction", "IrisFunction"):
        props = cfn["Resources"][name]["Properties"]
        assert props["Runtime"] == "python3.12"
        assert props["Handler"] == "app.lambda_handler"
        assert props["Architectures"] == [{"Ref": "Architecture"}]
        assert props["TracingConfig"] == {"Mode": "Active"}
        assert {"POWERTOOLS_SERVICE_NAME", "POWERTOOLS_LOG_LEVEL", "POWERTOOLS_METRICS_NAMESPACE"} <= set(
            env(cfn, name)
        )
        assert env(cfn, name)["POWERTOOLS_LOG_LEVEL"] == {"Ref": "LogLevel"}
        log_group = props["LoggingConfig"]["LogGroup"]["Ref"]
        assert cfn["Resources"][log_group]["Type"] == "AWS::Logs::LogGroup"
        assert props["Role"] == {"Fn::GetAtt": [name.replace("Function", "Role"), "Arn"]}
        assert sam["Resources"][name]["Metadata"] == {"BuildMethod": "makefile"}
        assert 1 <= props["Timeout"] <= 60
    # classify gets a full vCPU by default; the I/O-bound serialize needs little.
    assert cfn["Parameters"]["ClassifyMemorySize"]["Default"] >= 1769
    assert cfn["Resources"]["SerializeFunction"]["Properties"]["MemorySize"] <= 512
    assert cfn["Parameters"]["Architecture"]["AllowedValues"] == ["x86_64", "arm64"]


def test_each_function_makefile_builds_through_packaging(sam: dict[str, Any]) -> None:
    for name in [k for k, v in sam["Resources"].items() if v["Type"] == "AWS::Serverless::Function"]:
        code = TEMPLATE.parent / sam["Resources"][name]["Properties"]["CodeUri"]
        makefile = (code / "Makefile").read_text()
        assert f"build-{name}:" in makefile
        assert f"-m sfn_workbench.build build {code.resolve().name} " in makefile
        assert '--out "$(ARTIFACTS_DIR)"' in makefile


def test_classify_environment_per_backend(sam: dict[str, Any]) -> None:
    litert = env(deployed(sam), "ClassifyFunction")
    assert litert["BACKEND"] == {"Ref": "Backend"}
    assert litert["MODEL_DIR"] == "models/digits"
    assert litert["LITERT_NUM_THREADS"] == "1"
    assert litert["CAPTURE_DESTINATION_S3_URI"] == {"Fn::Sub": "s3://${ImageBucket}/captures"}
    assert litert["CAPTURE_SAMPLING_PERCENTAGE"] == {"Ref": "CaptureSamplingPercentage"}
    assert litert["CAPTURE_ENDPOINT_NAME"] == {"Fn::Sub": "${AWS::StackName}-litert"}
    sagemaker = env(deployed(sam, Backend="sagemaker"), "ClassifyFunction")
    # The endpoint captures for itself; classify must not capture a second time.
    assert [sagemaker[k] for k in litert if k.startswith("CAPTURE_")] == ["", "", ""]
    assert env(deployed(sam), "FilterFunction")["CONFIDENCE_THRESHOLD"] == {"Ref": "ConfidenceThreshold"}


# -------------------------------------------------------------- state machine
def test_state_machine_definition_substitutions_type_logging_tracing(sam: dict[str, Any]) -> None:
    cfn = deployed(sam)
    props = cfn["Resources"]["PipelineStateMachine"]["Properties"]
    asl = (ROOT / "statemachine" / "pipeline.asl.json").read_text()
    assert isinstance(props["DefinitionString"], str)
    assert json.loads(props["DefinitionString"]) == json.loads(asl)
    assert props["DefinitionSubstitutions"] == {
        "SerializeFunctionArn": {"Fn::GetAtt": ["SerializeFunction", "Arn"]},
        "ClassifyFunctionArn": {"Fn::GetAtt": ["ClassifyFunction", "Arn"]},
        "FilterFunctionArn": {"Fn::GetAtt": ["FilterFunction", "Arn"]},
    }
    assert props["StateMachineType"] == {"Ref": "StateMachineType"}
    assert cfn["Parameters"]["StateMachineType"]["AllowedValues"] == ["STANDARD", "EXPRESS"]
    logging = props["LoggingConfiguration"]
    assert logging["IncludeExecutionData"] is True
    assert logging["Level"] == {"Ref": "StateMachineLogLevel"}
    assert set(cfn["Parameters"]["StateMachineLogLevel"]["AllowedValues"]) >= {"ALL", "ERROR"}
    [destination] = logging["Destinations"]
    assert destination["CloudWatchLogsLogGroup"]["LogGroupArn"] == {"Fn::GetAtt": ["StateMachineLogGroup", "Arn"]}
    assert props["TracingConfiguration"] == {"Enabled": True}


def test_uploads_under_the_incoming_prefix_start_the_state_machine_directly(sam: dict[str, Any]) -> None:
    cfn = deployed(sam)
    [rule] = [
        r["Properties"]
        for r in cfn["Resources"].values()
        if r["Type"] == "AWS::Events::Rule" and r["Properties"].get("EventPattern", {}).get("source") == ["aws.s3"]
    ]
    assert rule["EventPattern"] == {
        "source": ["aws.s3"],
        "detail-type": ["Object Created"],
        "detail": {
            "bucket": {"name": [{"Ref": "ImageBucket"}]},
            "object": {"key": [{"prefix": {"Ref": "IncomingPrefix"}}]},
        },
    }
    assert cfn["Parameters"]["IncomingPrefix"]["Default"] == "incoming/"
    [target] = rule["Targets"]
    assert target["Arn"] == {"Ref": "PipelineStateMachine"}  # no glue Lambda in between
    assert "InputTransformer" not in target and "Input" not in target  # the whole event, as serialize parses it
    role = cfn["Resources"][target["RoleArn"]["Fn::GetAtt"][0]]
    assert statements(role) == [
        {"Action": "states:StartExecution", "Effect": "Allow", "Resource": {"Ref": "PipelineStateMachine"}}
    ]
    permissions = [r["Properties"] for r in cfn["Resources"].values() if r["Type"] == "AWS::Lambda::Permission"]
    invoked_by_events = [p["FunctionName"] for p in permissions if p["Principal"] == "events.amazonaws.com"]
    assert invoked_by_events == [{"Ref": "MonitorFunction"}], (
        "the upload rule targets the state machine, no glue Lambda"
    )
    assert {p["Principal"] for p in permissions} == {
        "logs.amazonaws.com",
        "apigateway.amazonaws.com",
        "events.amazonaws.com",
    }


def test_in_lambda_captures_reach_s3_through_the_log_and_the_compactor(sam: dict[str, Any]) -> None:
    """classify's log group is subscribed with LiteRT (an endpoint captures itself); the HTTP API's
    model functions' always are: they run their models in-Lambda whatever the backend."""

    def subscribed(cfn: dict[str, Any]) -> dict[str, dict[str, Any]]:
        found = {}
        for r in cfn["Resources"].values():
            if r["Type"] == "AWS::Logs::SubscriptionFilter":
                found[r["Properties"]["LogGroupName"]["Ref"]] = r["Properties"]
        return found

    def permitted(cfn: dict[str, Any]) -> set[str]:
        return {
            r["Properties"]["SourceArn"]["Fn::GetAtt"][0]
            for r in cfn["Resources"].values()
            if r["Type"] == "AWS::Lambda::Permission" and r["Properties"]["Principal"] == "logs.amazonaws.com"
        }

    litert, sagemaker = deployed(sam), deployed(sam, Backend="sagemaker")
    groups = {"ClassifyLogGroup", "DigitsLogGroup", "FashionLogGroup", "FordaLogGroup", "IrisLogGroup"}
    assert set(subscribed(litert)) == permitted(litert) == groups
    assert set(subscribed(sagemaker)) == permitted(sagemaker) == groups - {"ClassifyLogGroup"}
    for subscription in subscribed(litert).values():
        assert subscription["DestinationArn"] == {"Fn::GetAtt": ["CaptureCompactorFunction", "Arn"]}
        assert subscription["FilterPattern"] == FILTER_PATTERN
    compactor = litert["Resources"]["CaptureCompactorRole"]
    assert {s["Sid"]: s["Resource"] for s in statements(compactor)}["WriteCaptures"] == {
        "Fn::Sub": "${ImageBucket.Arn}/captures/*"
    }


def test_forda_and_iris_capture_under_their_own_endpoint_names(sam: dict[str, Any]) -> None:
    cfn = deployed(sam, Backend="sagemaker")
    for function, bundle in (("FordaFunction", "forda"), ("IrisFunction", "iris")):
        variables = env(cfn, function)
        assert variables["MODEL_DIR"] == f"models/{bundle}"
        assert variables["CAPTURE_DESTINATION_S3_URI"] == {"Fn::Sub": "s3://${ImageBucket}/captures"}
        assert variables["CAPTURE_ENDPOINT_NAME"] == {"Fn::Sub": f"${{AWS::StackName}}-{bundle}"}
        assert variables["CAPTURE_SAMPLING_PERCENTAGE"] == {"Ref": "CaptureSamplingPercentage"}
    assert env(cfn, "FordaFunction")["MAX_SERIES_PER_REQUEST"] == {"Ref": "MaxSeriesPerRequest"}


# ------------------------------------------------------------------ HTTP API
def test_one_http_api_payload_2_0_routes_to_the_model_functions(sam: dict[str, Any]) -> None:
    assert sam["Resources"]["HttpApi"]["Type"] == "AWS::Serverless::HttpApi"
    cfn = deployed(sam)
    api = cfn["Resources"]["HttpApi"]
    assert api["Type"] == "AWS::ApiGatewayV2::Api"
    routes = {
        f"{method.upper()} {path}": op["x-amazon-apigateway-integration"]
        for path, item in api["Properties"]["Body"]["paths"].items()
        for method, op in item.items()
    }
    assert {"POST /digits/predict", "POST /fashion/predict"} <= set(routes)
    for key, function in (("POST /digits/predict", "DigitsFunction"), ("POST /fashion/predict", "FashionFunction")):
        assert routes[key]["payloadFormatVersion"] == "2.0"
        assert routes[key]["type"] == "aws_proxy"
        assert f"${{{function}.Arn}}" in routes[key]["uri"]["Fn::Sub"]
    [stage] = [r["Properties"] for r in cfn["Resources"].values() if r["Type"] == "AWS::ApiGatewayV2::Stage"]
    assert (stage["StageName"], stage["AutoDeploy"]) == ("Prod", True)
    invokers = [
        r["Properties"]
        for r in cfn["Resources"].values()
        if r["Type"] == "AWS::Lambda::Permission" and r["Properties"]["Principal"] == "apigateway.amazonaws.com"
    ]
    own_route = {"DigitsFunction": "/POST/digits/predict", "FashionFunction": "/POST/fashion/predict"}
    by_function = {p["FunctionName"]["Ref"]: p["SourceArn"]["Fn::Sub"] for p in invokers}
    for function, route in own_route.items():  # each function may be invoked by its own route of this API only
        template, values = by_function[function]
        assert values["__ApiId__"] == {"Ref": "HttpApi"}
        assert template.endswith(route)


def test_http_functions_run_their_bundles_capture_and_bound_the_url_fetch(sam: dict[str, Any]) -> None:
    for backend in ("litert", "sagemaker"):  # always in-Lambda, whatever Backend says
        cfn = deployed(sam, Backend=backend)
        digits, fashion = env(cfn, "DigitsFunction"), env(cfn, "FashionFunction")
        assert digits["MODEL_DIR"] == "models/digits" and fashion["MODEL_DIR"] == "models/fashion"
        for name, variables in (("digits", digits), ("fashion", fashion)):
            assert variables["CAPTURE_DESTINATION_S3_URI"] == {"Fn::Sub": "s3://${ImageBucket}/captures"}
            assert variables["CAPTURE_ENDPOINT_NAME"] == {"Fn::Sub": f"${{AWS::StackName}}-{name}"}
        assert fashion["URL_ALLOW_HOSTS"] == {"Ref": "UrlAllowHosts"}
        assert cfn["Parameters"]["UrlAllowHosts"]["Default"] == ""  # on AWS: public addresses only
        fetch_s = float(fashion["URL_TOTAL_TIMEOUT_S"])
        assert fetch_s + 5 < cfn["Resources"]["FashionFunction"]["Properties"]["Timeout"] < 30
        reads = {s["Sid"]: s for s in statements(cfn["Resources"]["FashionRole"])}["ReadImagesByS3Url"]
        assert reads["Resource"] == [
            {"Fn::Sub": "${ImageBucket.Arn}/${IncomingPrefix}*"},
            {"Fn::Sub": "${ImageBucket.Arn}/test/*"},
        ]
        assert "s3:GetObject" not in str(statements(cfn["Resources"]["DigitsRole"]))


# ----------------------------------------------------------------- SageMaker
def test_endpoint_captures_input_and_output_with_the_sampling_parameter(sam: dict[str, Any]) -> None:
    cfn = deployed(sam, Backend="sagemaker")
    model = cfn["Resources"]["SageMakerModel"]["Properties"]
    assert model["PrimaryContainer"] == {"Image": {"Ref": "ServingImageUri"}, "ModelDataUrl": {"Ref": "ModelDataUrl"}}
    assert model["ExecutionRoleArn"] == {"Fn::GetAtt": ["SageMakerModelRole", "Arn"]}
    config = cfn["Resources"]["SageMakerEndpointConfig"]["Properties"]
    [variant] = config["ProductionVariants"]
    assert variant["VariantName"] == "AllTraffic"
    assert variant["InstanceType"] == {"Ref": "EndpointInstanceType"}
    assert cfn["Parameters"]["EndpointInstanceType"]["Default"] == "ml.t2.medium"
    capture = config["DataCaptureConfig"]
    assert capture["EnableCapture"] is True
    assert capture["InitialSamplingPercentage"] == {"Ref": "CaptureSamplingPercentage"}
    assert capture["DestinationS3Uri"] == {"Fn::Sub": "s3://${ImageBucket}/captures"}
    assert capture["CaptureOptions"] == [{"CaptureMode": "Input"}, {"CaptureMode": "Output"}]
    assert capture["CaptureContentTypeHeader"] == {"JsonContentTypes": ["application/json"]}
    assert cfn["Parameters"]["CaptureSamplingPercentage"]["Default"] == 100
    endpoint = cfn["Resources"]["SageMakerEndpoint"]["Properties"]
    assert endpoint["EndpointConfigName"] == {"Fn::GetAtt": ["SageMakerEndpointConfig", "EndpointConfigName"]}


@pytest.mark.parametrize(
    ("image", "repository"),
    [
        ("123456789012.dkr.ecr.us-east-1.amazonaws.com/sfn-inference-serving:local", "sfn-inference-serving"),
        ("210987654321.dkr.ecr.eu-west-1.amazonaws.com/team/serving@sha256:" + "a" * 64, "team/serving"),
        ("123456789012.dkr.ecr.us-east-1.amazonaws.com/serving", "serving"),
    ],
)
def test_model_role_reads_only_its_model_and_pulls_only_its_image(
    sam: dict[str, Any], image: str, repository: str
) -> None:
    cfn = deployed(sam, Backend="sagemaker")
    params = {
        "ServingImageUri": image,
        "ModelDataUrl": "s3://artifacts-bucket/models/digits/model.tar.gz",
        "AWS::Partition": "aws",
        "AWS::Region": "us-east-1",
        "AWS::AccountId": "123456789012",
        "AWS::StackName": "demo",
    }
    by_sid = {s["Sid"]: s for s in statements(cfn["Resources"]["SageMakerModelRole"])}
    evaluate = resolver(cfn, params).resolve
    assert evaluate(by_sid["ReadTheModel"]["Resource"]) == "arn:aws:s3:::artifacts-bucket/models/digits/model.tar.gz"
    account, _, _, region = image.split(".")[:4]
    assert evaluate(by_sid["PullTheServingImage"]["Resource"]) == (
        f"arn:aws:ecr:{region}:{account}:repository/{repository}"
    )
    assert re.fullmatch(cfn["Parameters"]["ServingImageUri"]["AllowedPattern"], image)
    assert by_sid["WriteCaptures"]["Resource"] == {"Fn::Sub": "${ImageBucket.Arn}/captures/*"}


def test_image_and_model_parameters_refuse_what_the_role_cannot_scope(sam: dict[str, Any]) -> None:
    image = sam["Parameters"]["ServingImageUri"]["AllowedPattern"]
    model = sam["Parameters"]["ModelDataUrl"]["AllowedPattern"]
    assert re.fullmatch(image, "") and re.fullmatch(model, "")
    assert not re.fullmatch(image, "docker.io/library/python:3.12")
    assert not re.fullmatch(model, "https://example.com/model.tar.gz")
    assert re.fullmatch(model, "s3://sfn-inference-local-artifacts/models/digits/model.tar.gz")


# -------------------------------------------------------------------- alarms
def test_failed_executions_alarm_and_optional_notifications(sam: dict[str, Any]) -> None:
    quiet = deployed(sam)
    alarm = quiet["Resources"]["ExecutionsFailedAlarm"]["Properties"]
    assert (alarm["Namespace"], alarm["MetricName"]) == ("AWS/States", "ExecutionsFailed")
    assert alarm["Dimensions"] == [{"Name": "StateMachineArn", "Value": {"Ref": "PipelineStateMachine"}}]
    assert "AlarmActions" not in alarm
    assert not {"AlarmTopic", "AlarmSubscription", "FailedExecutionRule"} & set(quiet["Resources"])

    loud = deployed(sam, AlarmEmail="ops@example.com")
    assert loud["Resources"]["ExecutionsFailedAlarm"]["Properties"]["AlarmActions"] == [{"Ref": "AlarmTopic"}]
    subscription = loud["Resources"]["AlarmSubscription"]["Properties"]
    assert subscription == {"TopicArn": {"Ref": "AlarmTopic"}, "Protocol": "email", "Endpoint": {"Ref": "AlarmEmail"}}
    rule = loud["Resources"]["FailedExecutionRule"]["Properties"]
    assert rule["EventPattern"]["source"] == ["aws.states"]
    assert "FAILED" in rule["EventPattern"]["detail"]["status"]  # LowConfidenceError ends in FAILED
    assert rule["EventPattern"]["detail"]["stateMachineArn"] == [{"Ref": "PipelineStateMachine"}]
    assert [t["Arn"] for t in rule["Targets"]] == [{"Ref": "AlarmTopic"}]
    template = rule["Targets"][0]["InputTransformer"]["InputTemplate"]
    placeholders = set(re.findall(r"<(\w+)>", template))
    assert placeholders == set(rule["Targets"][0]["InputTransformer"]["InputPathsMap"])
    assert json.loads(re.sub(r"<\w+>", '"x"', template))  # valid JSON once filled in
    publishers = {
        s["Principal"]["Service"]
        for s in loud["Resources"]["AlarmTopicPolicy"]["Properties"]["PolicyDocument"]["Statement"]
    }
    assert publishers == {"cloudwatch.amazonaws.com", "events.amazonaws.com"}

    # Express workflows emit no status-change events: the alarm alone notifies.
    express = deployed(sam, AlarmEmail="ops@example.com", StateMachineType="EXPRESS")
    assert "FailedExecutionRule" not in express["Resources"]
    assert "AlarmTopic" in express["Resources"]


def test_conditions_follow_parameters(sam: dict[str, Any]) -> None:
    assert conditions(sam, {}) == {
        "UseLiteRT": True,
        "UseSageMaker": False,
        "NoExistingEndpoint": True,
        "CreateEndpoint": False,
        "HasAlarmEmail": False,
        "IsStandard": True,
        "NotifyFailedExecutions": False,
    }
    assert conditions(sam, {"Backend": "sagemaker"})["CreateEndpoint"] is True
    assert conditions(sam, {"Backend": "sagemaker", "ExistingEndpointName": "e"})["CreateEndpoint"] is False


# -------------------------------------------------------------------- outputs
def test_outputs(sam: dict[str, Any]) -> None:
    outputs = deployed(sam)["Outputs"]
    assert {"BucketName", "StateMachineArn", "EndpointName", "StartTestExecutionCommand"} <= set(outputs)
    assert outputs["BucketName"]["Value"] == {"Ref": "ImageBucket"}
    assert outputs["StateMachineArn"]["Value"] == {"Ref": "PipelineStateMachine"}
    command = outputs["StartTestExecutionCommand"]["Value"]["Fn::Sub"]
    assert command.startswith("aws stepfunctions start-execution --state-machine-arn ${PipelineStateMachine} ")
    test_input = json.loads(re.search(r"--input '(.*)'", command).group(1))  # type: ignore[union-attr]
    assert test_input == {"s3_bucket": "${ImageBucket}", "s3_key": "test/7_00017.png"}
    upload = outputs["UploadTestImageCommand"]["Value"]["Fn::Sub"]
    assert upload.endswith("s3://${ImageBucket}/test/7_00017.png")
    assert (ROOT / upload.split()[3]).is_file()


def test_the_forda_and_iris_routes_are_on_the_same_http_api(sam: dict[str, Any]) -> None:
    cfn = deployed(sam)
    routes = {
        f"{method.upper()} {path}": op["x-amazon-apigateway-integration"]
        for path, item in cfn["Resources"]["HttpApi"]["Properties"]["Body"]["paths"].items()
        for method, op in item.items()
    }
    expected = {
        "POST /forda/predict": "FordaFunction",
        "POST /v1/predict": "FordaFunction",  # the FordA tutorial's own path
        "POST /iris/predict": "IrisFunction",
        "GET /iris/predict": "IrisFunction",
    }
    for key, function in expected.items():
        assert routes[key]["payloadFormatVersion"] == "2.0" and routes[key]["type"] == "aws_proxy", key
        assert f"${{{function}.Arn}}" in routes[key]["uri"]["Fn::Sub"], key
    invokers = [
        r["Properties"]["SourceArn"]["Fn::Sub"][0]
        for r in cfn["Resources"].values()
        if r["Type"] == "AWS::Lambda::Permission"
        and r["Properties"]["Principal"] == "apigateway.amazonaws.com"
        and r["Properties"]["FunctionName"]["Ref"] in {"FordaFunction", "IrisFunction"}
    ]
    assert sorted(arn.split("${__Stage__}", 1)[1] for arn in invokers) == sorted(
        "/" + key.replace(" /", "/") for key in expected
    ), "each function may be invoked by its own routes only"
