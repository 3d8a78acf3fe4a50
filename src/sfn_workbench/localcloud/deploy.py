"""Deploy ``infra/template.yaml`` into the local cloud, resource by resource.

The SAM template is translated offline to CloudFormation (the same transform
AWS runs), intrinsics are resolved, and each resource is created through the
real AWS APIs (boto3 over HTTP) of the local cloud. Nothing the template says is
repeated here; a resource type the local cloud cannot deploy is an error naming
the resource, never a silent skip.
"""

from __future__ import annotations

import io
import json
import tarfile
import tempfile
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sfn_workbench.intrinsics import Resolver, TemplateError, dependencies
from sfn_workbench.localcloud.context import LocalCloudContext
from sfn_workbench.paths import project_root

#: Stands in for SAM's managed artifacts bucket: code and model tarballs live here.
ARTIFACTS_BUCKET = "sfn-inference-local-artifacts"


@dataclass
class Deployed:
    logical_id: str
    type: str
    ref: Any
    attributes: dict[str, Any] = field(default_factory=dict)


@dataclass
class Stack:
    name: str
    parameters: dict[str, Any]
    resources: dict[str, Deployed] = field(default_factory=dict)
    outputs: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "parameters": self.parameters,
            "outputs": self.outputs,
            "resources": {k: {"type": v.type, "ref": v.ref, **v.attributes} for k, v in self.resources.items()},
        }


class Deployer:
    def __init__(self, ctx: LocalCloudContext) -> None:
        self.ctx = ctx
        self._handlers: dict[str, Callable[[Stack, str, dict[str, Any]], Deployed]] = {
            "AWS::S3::Bucket": self._bucket,
            "AWS::S3::BucketPolicy": self._bucket_policy,
            "AWS::IAM::Role": self._role,
            "AWS::IAM::Policy": self._policy,
            "AWS::Lambda::Function": self._function,
            "AWS::Lambda::Permission": self._permission,
            "AWS::StepFunctions::StateMachine": self._state_machine,
            "AWS::Events::Rule": self._rule,
            "AWS::Logs::LogGroup": self._log_group,
            "AWS::Logs::SubscriptionFilter": self._subscription_filter,
            "AWS::CloudWatch::Alarm": self._alarm,
            "AWS::SNS::Topic": self._topic,
            "AWS::SNS::Subscription": self._subscription,
            "AWS::SNS::TopicPolicy": self._topic_policy,
            "AWS::SageMaker::Model": self._sm_model,
            "AWS::SageMaker::EndpointConfig": self._sm_endpoint_config,
            "AWS::SageMaker::Endpoint": self._sm_endpoint,
            "AWS::ApiGatewayV2::Api": self._http_api,
            "AWS::ApiGatewayV2::Integration": self._http_integration,
            "AWS::ApiGatewayV2::Route": self._http_route,
            "AWS::ApiGatewayV2::Stage": self._http_stage,
        }
        self._code_dirs: dict[str, Path] = {}

    def client(self, service: str) -> Any:
        return self.ctx.client(service)

    # --------------------------------------------------------------- the stack
    def resource_types(self) -> list[str]:
        """Every CloudFormation resource type this deployer creates."""
        return sorted(self._handlers)

    def deploy(self, stack_name: str, overrides: dict[str, str] | None = None, template: Path | None = None) -> Stack:
        template = template or project_root() / "infra" / "template.yaml"
        from sfn_workbench.template import load_template, translate  # noqa: PLC0415

        overrides = dict(overrides or {})
        cfn, self._code_dirs = translate(load_template(template), template.parent, overrides)
        params = {name: str(spec.get("Default", "")) for name, spec in cfn.get("Parameters", {}).items()}
        unknown = set(overrides) - set(params)
        if unknown:
            raise TemplateError(f"unknown parameter(s) {sorted(unknown)} for {template}")
        params.update(overrides)
        pseudo = {
            "AWS::Region": self.ctx.region,
            "AWS::AccountId": self.ctx.account_id,
            "AWS::StackName": stack_name,
            "AWS::StackId": f"arn:aws:cloudformation:{self.ctx.region}:{self.ctx.account_id}:stack/{stack_name}/local",
            "AWS::Partition": "aws",
            "AWS::URLSuffix": "amazonaws.com",
            "AWS::NotificationARNs": [],
        }
        stack = Stack(stack_name, params)
        resolver = Resolver({**params, **pseudo}, cfn.get("Conditions", {}), self._ref(stack), self._get_att(stack))
        resources = {
            k: v for k, v in cfn["Resources"].items() if "Condition" not in v or resolver.condition(v["Condition"])
        }
        for logical_id in _deployment_order(resources):
            spec = resources[logical_id]
            handler = self._handlers.get(spec["Type"])
            if handler is None:
                raise TemplateError(f"{logical_id}: the local cloud cannot deploy {spec['Type']}")
            props = resolver.resolve(spec.get("Properties", {}))
            try:
                stack.resources[logical_id] = handler(stack, logical_id, props)
            except TemplateError:
                raise
            except Exception as exc:
                raise TemplateError(f"{logical_id} ({spec['Type']}): {exc}") from exc
        for name, output in cfn.get("Outputs", {}).items():
            if "Condition" in output and not resolver.condition(output["Condition"]):
                continue
            stack.outputs[name] = resolver.resolve(output["Value"])
        path = self.ctx.state_dir / "stacks" / f"{stack_name}.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(stack.to_json(), indent=2, default=str))
        return stack

    def _ref(self, stack: Stack) -> Callable[[str], Any]:
        def ref(logical_id: str) -> Any:
            if logical_id not in stack.resources:
                raise TemplateError(f"Ref to {logical_id}, which is not deployed (yet, or its condition is false)")
            return stack.resources[logical_id].ref

        return ref

    def _get_att(self, stack: Stack) -> Callable[[str, str], Any]:
        def get_att(logical_id: str, attribute: str) -> Any:
            deployed = stack.resources.get(logical_id)
            if deployed is None or attribute not in deployed.attributes:
                raise TemplateError(f"Fn::GetAtt {logical_id}.{attribute} is not available locally")
            return deployed.attributes[attribute]

        return get_att

    def _name(self, stack: Stack, logical_id: str, limit: int = 64) -> str:
        return f"{stack.name}-{logical_id}"[:limit]

    # ------------------------------------------------------------ S3 and IAM
    def _bucket(self, stack: Stack, logical_id: str, props: dict[str, Any]) -> Deployed:
        name = props.get("BucketName") or self._name(stack, logical_id, 63).lower()
        s3 = self.client("s3")
        s3.create_bucket(Bucket=name)
        notification = props.get("NotificationConfiguration", {})
        if notification.get("EventBridgeConfiguration", {}).get("EventBridgeEnabled"):
            s3.put_bucket_notification_configuration(
                Bucket=name, NotificationConfiguration={"EventBridgeConfiguration": {}}
            )
        if "BucketEncryption" in props:
            s3.put_bucket_encryption(
                Bucket=name,
                ServerSideEncryptionConfiguration={
                    "Rules": [
                        _encryption_rule(r) for r in props["BucketEncryption"]["ServerSideEncryptionConfiguration"]
                    ]
                },
            )
        if "PublicAccessBlockConfiguration" in props:
            s3.put_public_access_block(
                Bucket=name, PublicAccessBlockConfiguration=props["PublicAccessBlockConfiguration"]
            )
        if "LifecycleConfiguration" in props:
            s3.put_bucket_lifecycle_configuration(
                Bucket=name,
                LifecycleConfiguration={
                    "Rules": [_lifecycle_rule(r) for r in props["LifecycleConfiguration"]["Rules"]]
                },
            )
        arn = f"arn:aws:s3:::{name}"
        return Deployed(logical_id, "AWS::S3::Bucket", name, {"Arn": arn, "DomainName": f"{name}.s3.amazonaws.com"})

    def _bucket_policy(self, stack: Stack, logical_id: str, props: dict[str, Any]) -> Deployed:
        self.client("s3").put_bucket_policy(Bucket=props["Bucket"], Policy=json.dumps(props["PolicyDocument"]))
        return Deployed(logical_id, "AWS::S3::BucketPolicy", props["Bucket"])

    def _role(self, stack: Stack, logical_id: str, props: dict[str, Any]) -> Deployed:
        iam = self.client("iam")
        name = props.get("RoleName") or self._name(stack, logical_id)
        role = iam.create_role(
            RoleName=name,
            AssumeRolePolicyDocument=json.dumps(props["AssumeRolePolicyDocument"]),
            Path=props.get("Path", "/"),
        )["Role"]
        for policy in props.get("Policies", []):
            iam.put_role_policy(
                RoleName=name, PolicyName=policy["PolicyName"], PolicyDocument=_policy_json(policy["PolicyDocument"])
            )
        for arn in props.get("ManagedPolicyArns", []):
            iam.attach_role_policy(RoleName=name, PolicyArn=arn)
        return Deployed(logical_id, "AWS::IAM::Role", name, {"Arn": role["Arn"], "RoleId": role["RoleId"]})

    def _policy(self, stack: Stack, logical_id: str, props: dict[str, Any]) -> Deployed:
        iam = self.client("iam")
        for role in props.get("Roles", []):
            iam.put_role_policy(
                RoleName=role, PolicyName=props["PolicyName"], PolicyDocument=_policy_json(props["PolicyDocument"])
            )
        return Deployed(logical_id, "AWS::IAM::Policy", props["PolicyName"])

    # ------------------------------------------------------- Lambda and SFN
    def _function(self, stack: Stack, logical_id: str, props: dict[str, Any]) -> Deployed:
        if logical_id not in self._code_dirs:
            raise TemplateError(f"{logical_id}: only functions with a local CodeUri can be deployed locally")
        name = props.get("FunctionName") or self._name(stack, logical_id)
        fn = self.client("lambda").create_function(
            FunctionName=name,
            Runtime=props.get("Runtime", "python3.12"),
            Role=props["Role"],
            Handler=props.get("Handler", "app.lambda_handler"),
            Code={"ZipFile": build_code_zip(self._code_dirs[logical_id])},
            Environment=props.get("Environment", {"Variables": {}}),
            MemorySize=int(props.get("MemorySize", 128)),
            Timeout=int(props.get("Timeout", 3)),
            Architectures=props.get("Architectures", ["x86_64"]),
            TracingConfig=props.get("TracingConfig", {"Mode": "PassThrough"}),
            Tags={t["Key"]: t["Value"] for t in props.get("Tags", [])},
            **({"LoggingConfig": props["LoggingConfig"]} if "LoggingConfig" in props else {}),
        )
        log_group = props.get("LoggingConfig", {}).get("LogGroup")
        if log_group:
            self.ctx.record_log_group(name, log_group)
        return Deployed(logical_id, "AWS::Lambda::Function", name, {"Arn": fn["FunctionArn"]})

    def _permission(self, stack: Stack, logical_id: str, props: dict[str, Any]) -> Deployed:
        self.client("lambda").add_permission(
            FunctionName=props["FunctionName"],
            StatementId=logical_id,
            Action=props["Action"],
            Principal=props["Principal"],
            **({"SourceArn": props["SourceArn"]} if "SourceArn" in props else {}),
        )
        return Deployed(logical_id, "AWS::Lambda::Permission", logical_id)

    def _state_machine(self, stack: Stack, logical_id: str, props: dict[str, Any]) -> Deployed:
        definition = props.get("DefinitionString")
        if definition is None:
            definition = json.dumps(props["Definition"])
        for key, value in props.get("DefinitionSubstitutions", {}).items():
            definition = definition.replace("${" + key + "}", str(value))
        name = props.get("StateMachineName") or self._name(stack, logical_id, 80)
        extra: dict[str, Any] = {}
        if "LoggingConfiguration" in props:
            extra["loggingConfiguration"] = _lower_keys(props["LoggingConfiguration"])
        if "TracingConfiguration" in props:
            extra["tracingConfiguration"] = _lower_keys(props["TracingConfiguration"])
        sm = self.client("stepfunctions").create_state_machine(
            name=name,
            definition=definition,
            roleArn=props["RoleArn"],
            type=props.get("StateMachineType", "STANDARD"),
            **extra,
        )
        arn = sm["stateMachineArn"]
        return Deployed(logical_id, "AWS::StepFunctions::StateMachine", arn, {"Arn": arn, "Name": name})

    def _rule(self, stack: Stack, logical_id: str, props: dict[str, Any]) -> Deployed:
        events = self.client("events")
        name = props.get("Name") or self._name(stack, logical_id)
        bus = props.get("EventBusName", "default")
        arn = events.put_rule(
            Name=name,
            EventPattern=json.dumps(props["EventPattern"]),
            State=props.get("State", "ENABLED"),
            EventBusName=bus,
        )["RuleArn"]
        targets = [
            {k: (json.dumps(v) if k == "Input" and not isinstance(v, str) else v) for k, v in t.items()}
            for t in props.get("Targets", [])
        ]
        if targets:
            events.put_targets(Rule=name, EventBusName=bus, Targets=targets)
        return Deployed(logical_id, "AWS::Events::Rule", name, {"Arn": arn})

    def _log_group(self, stack: Stack, logical_id: str, props: dict[str, Any]) -> Deployed:
        name = props.get("LogGroupName") or f"/local/{self._name(stack, logical_id)}"
        self.client("logs").create_log_group(logGroupName=name)
        arn = f"arn:aws:logs:{self.ctx.region}:{self.ctx.account_id}:log-group:{name}:*"
        return Deployed(logical_id, "AWS::Logs::LogGroup", name, {"Arn": arn})

    def _subscription_filter(self, stack: Stack, logical_id: str, props: dict[str, Any]) -> Deployed:
        name = props.get("FilterName") or self._name(stack, logical_id)
        self.client("logs").put_subscription_filter(
            logGroupName=props["LogGroupName"],
            filterName=name,
            filterPattern=props["FilterPattern"],
            destinationArn=props["DestinationArn"],
        )
        return Deployed(logical_id, "AWS::Logs::SubscriptionFilter", name)

    # ------------------------------------------------- alarms and notifications
    def _alarm(self, stack: Stack, logical_id: str, props: dict[str, Any]) -> Deployed:
        name = props.get("AlarmName") or self._name(stack, logical_id, 255)
        allowed = {
            "AlarmDescription", "ActionsEnabled", "AlarmActions", "OKActions", "InsufficientDataActions", "MetricName",
            "Namespace", "Statistic", "Dimensions", "Period", "EvaluationPeriods", "DatapointsToAlarm", "Threshold",
            "ComparisonOperator", "TreatMissingData", "Unit",
        }  # fmt: skip
        args = {k: v for k, v in props.items() if k in allowed}
        for key in ("Period", "EvaluationPeriods", "DatapointsToAlarm"):
            if key in args:
                args[key] = int(args[key])
        if "Threshold" in args:
            args["Threshold"] = float(args["Threshold"])
        self.client("cloudwatch").put_metric_alarm(AlarmName=name, **args)
        arn = f"arn:aws:cloudwatch:{self.ctx.region}:{self.ctx.account_id}:alarm:{name}"
        return Deployed(logical_id, "AWS::CloudWatch::Alarm", name, {"Arn": arn})

    def _topic(self, stack: Stack, logical_id: str, props: dict[str, Any]) -> Deployed:
        name = props.get("TopicName") or self._name(stack, logical_id, 256)
        arn = self.client("sns").create_topic(Name=name)["TopicArn"]
        for sub in props.get("Subscription", []):
            self.client("sns").subscribe(TopicArn=arn, Protocol=sub["Protocol"], Endpoint=sub["Endpoint"])
        return Deployed(logical_id, "AWS::SNS::Topic", arn, {"TopicArn": arn, "TopicName": name})

    def _subscription(self, stack: Stack, logical_id: str, props: dict[str, Any]) -> Deployed:
        arn = self.client("sns").subscribe(
            TopicArn=props["TopicArn"], Protocol=props["Protocol"], Endpoint=props["Endpoint"]
        )
        return Deployed(logical_id, "AWS::SNS::Subscription", arn["SubscriptionArn"])

    def _topic_policy(self, stack: Stack, logical_id: str, props: dict[str, Any]) -> Deployed:
        for topic in props["Topics"]:
            self.client("sns").set_topic_attributes(
                TopicArn=topic, AttributeName="Policy", AttributeValue=json.dumps(props["PolicyDocument"])
            )
        return Deployed(logical_id, "AWS::SNS::TopicPolicy", logical_id)

    # ------------------------------------------------------------- SageMaker
    def _sm_model(self, stack: Stack, logical_id: str, props: dict[str, Any]) -> Deployed:
        name = props.get("ModelName") or self._name(stack, logical_id, 63)
        args = {k: v for k, v in props.items() if k in {"PrimaryContainer", "Containers", "ExecutionRoleArn"}}
        arn = self.client("sagemaker").create_model(ModelName=name, **args)["ModelArn"]
        return Deployed(logical_id, "AWS::SageMaker::Model", arn, {"ModelName": name})

    def _sm_endpoint_config(self, stack: Stack, logical_id: str, props: dict[str, Any]) -> Deployed:
        name = props.get("EndpointConfigName") or self._name(stack, logical_id, 63)
        variants = [
            {**v, **({"InitialInstanceCount": int(v["InitialInstanceCount"])} if "InitialInstanceCount" in v else {})}
            for v in props["ProductionVariants"]
        ]
        args: dict[str, Any] = {"ProductionVariants": variants}
        if "DataCaptureConfig" in props:
            capture = dict(props["DataCaptureConfig"])
            capture["InitialSamplingPercentage"] = int(capture["InitialSamplingPercentage"])
            args["DataCaptureConfig"] = capture
        arn = self.client("sagemaker").create_endpoint_config(EndpointConfigName=name, **args)["EndpointConfigArn"]
        return Deployed(logical_id, "AWS::SageMaker::EndpointConfig", arn, {"EndpointConfigName": name})

    def _sm_endpoint(self, stack: Stack, logical_id: str, props: dict[str, Any]) -> Deployed:
        name = props.get("EndpointName") or self._name(stack, logical_id, 63)
        config = props["EndpointConfigName"]
        sm = self.client("sagemaker")
        arn = sm.create_endpoint(EndpointName=name, EndpointConfigName=config)["EndpointArn"]
        sm.get_waiter("endpoint_in_service").wait(EndpointName=name, WaiterConfig={"Delay": 1, "MaxAttempts": 120})
        return Deployed(logical_id, "AWS::SageMaker::Endpoint", arn, {"EndpointName": name})

    # -------------------------------------------------------- API Gateway (HTTP APIs)
    def _http_api(self, stack: Stack, logical_id: str, props: dict[str, Any]) -> Deployed:
        """An HTTP API, its routes and integrations from an OpenAPI ``Body`` (what SAM's HttpApi
        becomes) created one by one through the control plane, as an import would create them."""
        if "BodyS3Location" in props:
            raise TemplateError(f"{logical_id}: BodyS3Location is not deployable locally; inline the Body")
        body = props.get("Body") or {}
        name = props.get("Name") or body.get("info", {}).get("title") or self._name(stack, logical_id, 128)
        protocol = props.get("ProtocolType", "HTTP")
        if protocol != "HTTP":
            raise TemplateError(f"{logical_id}: only HTTP APIs run locally, not {protocol}")
        apigw = self.client("apigatewayv2")
        extra = {k: props[k] for k in ("Description", "DisableExecuteApiEndpoint") if k in props}
        api = apigw.create_api(Name=name, ProtocolType="HTTP", Tags=props.get("Tags", {}), **extra)
        api_id = api["ApiId"]
        for route_key, integration in openapi_routes(logical_id, body):
            self._create_route(api_id, route_key, integration)
        if "Target" in props:  # quick create: one $default route and an auto-deployed $default stage
            self._create_route(api_id, "$default", {"type": "aws_proxy", "uri": props["Target"]})
            apigw.create_stage(ApiId=api_id, StageName="$default", AutoDeploy=True)
        return Deployed(
            logical_id, "AWS::ApiGatewayV2::Api", api_id, {"ApiId": api_id, "ApiEndpoint": api["ApiEndpoint"]}
        )

    def _create_route(self, api_id: str, route_key: str, integration: dict[str, Any]) -> str:
        apigw = self.client("apigatewayv2")
        args: dict[str, Any] = {
            "IntegrationType": str(integration.get("type", "aws_proxy")).upper(),
            "IntegrationUri": integration["uri"],
            "IntegrationMethod": integration.get("httpMethod", "POST"),
            "PayloadFormatVersion": str(integration.get("payloadFormatVersion", "2.0")),
        }
        if "timeoutInMillis" in integration:
            args["TimeoutInMillis"] = int(integration["timeoutInMillis"])
        created = apigw.create_integration(ApiId=api_id, **args)
        route = apigw.create_route(ApiId=api_id, RouteKey=route_key, Target=f"integrations/{created['IntegrationId']}")
        return str(route["RouteId"])

    def _http_integration(self, stack: Stack, logical_id: str, props: dict[str, Any]) -> Deployed:
        args = {
            k: (int(v) if k == "TimeoutInMillis" else v)
            for k, v in props.items()
            if k
            in {"IntegrationType", "IntegrationUri", "IntegrationMethod", "PayloadFormatVersion", "TimeoutInMillis"}
        }
        created = self.client("apigatewayv2").create_integration(ApiId=props["ApiId"], **args)
        return Deployed(logical_id, "AWS::ApiGatewayV2::Integration", created["IntegrationId"])

    def _http_route(self, stack: Stack, logical_id: str, props: dict[str, Any]) -> Deployed:
        if props.get("AuthorizationType", "NONE") != "NONE":
            raise TemplateError(f"{logical_id}: route authorizers do not run locally")
        route = self.client("apigatewayv2").create_route(
            ApiId=props["ApiId"],
            RouteKey=props["RouteKey"],
            **({"Target": props["Target"]} if "Target" in props else {}),
        )
        return Deployed(logical_id, "AWS::ApiGatewayV2::Route", route["RouteId"])

    def _http_stage(self, stack: Stack, logical_id: str, props: dict[str, Any]) -> Deployed:
        extra = {k: props[k] for k in ("Description", "StageVariables", "Tags") if k in props}
        self.client("apigatewayv2").create_stage(
            ApiId=props["ApiId"], StageName=props["StageName"], AutoDeploy=bool(props.get("AutoDeploy", False)), **extra
        )
        return Deployed(logical_id, "AWS::ApiGatewayV2::Stage", props["StageName"])


def openapi_routes(logical_id: str, body: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """``(route key, x-amazon-apigateway-integration)`` for each operation of an OpenAPI body."""
    routes = []
    for path, operations in body.get("paths", {}).items():
        for method, operation in operations.items():
            if method == "parameters":
                continue
            if operation.get("security"):
                raise TemplateError(
                    f"{logical_id}: {method.upper()} {path} has an authorizer, which does not run locally"
                )
            integration = operation.get("x-amazon-apigateway-integration")
            if integration is None:
                raise TemplateError(f"{logical_id}: {method.upper()} {path} has no x-amazon-apigateway-integration")
            verb = "ANY" if method == "x-amazon-apigateway-any-method" else method.upper()
            routes.append(("$default" if path == "$default" else f"{verb} {path}", integration))
    return routes


def _deployment_order(resources: dict[str, Any]) -> list[str]:
    """Topological order over Ref/GetAtt/Sub references and DependsOn."""
    deps = {}
    for logical_id, spec in resources.items():
        depends_on = spec.get("DependsOn", [])
        depends_on = [depends_on] if isinstance(depends_on, str) else depends_on
        deps[logical_id] = (dependencies(spec.get("Properties", {})) | set(depends_on)) & set(resources)
    order: list[str] = []
    while deps:
        ready = sorted(k for k, d in deps.items() if d <= set(order))
        if not ready:
            raise TemplateError(f"circular dependencies among {sorted(deps)}")
        order += ready
        for k in ready:
            del deps[k]
    return order


def _policy_json(document: dict[str, Any]) -> str:
    """IAM takes a policy without ``Version`` (as 2008-10-17, which SAM's templates rely on); moto
    refuses one, so give the missing field the current version: no statement changes meaning."""
    return json.dumps({"Version": "2012-10-17", **document})


def _encryption_rule(rule: dict[str, Any]) -> dict[str, Any]:
    """CloudFormation's ``ServerSideEncryptionByDefault`` is the API's ``ApplyServerSideEncryptionByDefault``."""
    out = {k: v for k, v in rule.items() if k != "ServerSideEncryptionByDefault"}
    if "ServerSideEncryptionByDefault" in rule:
        out["ApplyServerSideEncryptionByDefault"] = rule["ServerSideEncryptionByDefault"]
    return out


def _lifecycle_rule(rule: dict[str, Any]) -> dict[str, Any]:
    """CloudFormation's lifecycle rule shape -> the S3 API's."""
    out: dict[str, Any] = {"ID": rule.get("Id", "rule"), "Status": rule.get("Status", "Enabled")}
    out["Filter"] = {"Prefix": rule.get("Prefix", "")}
    if "ExpirationInDays" in rule:
        out["Expiration"] = {"Days": int(rule["ExpirationInDays"])}
    if "AbortIncompleteMultipartUpload" in rule:
        out["AbortIncompleteMultipartUpload"] = {
            "DaysAfterInitiation": int(rule["AbortIncompleteMultipartUpload"]["DaysAfterInitiation"])
        }
    return out


def _lower_keys(value: Any) -> Any:
    """CloudFormation's PascalCase -> the Step Functions API's camelCase."""
    if isinstance(value, list):
        return [_lower_keys(v) for v in value]
    if isinstance(value, dict):
        return {k[:1].lower() + k[1:]: _lower_keys(v) for k, v in value.items()}
    return value


def build_code_zip(code_dir: Path) -> bytes:
    """The function's artifact, built by the same packaging step as for AWS, minus the
    third-party dependencies, which the local cloud's workers take from this venv."""
    from sfn_workbench.build import build_function  # noqa: PLC0415

    with tempfile.TemporaryDirectory() as tmp:
        out = build_function(code_dir.name, Path(tmp) / "artifact", with_deps=False)
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
            for path in sorted(out.rglob("*")):
                if path.is_file():
                    archive.write(path, path.relative_to(out))
        return buffer.getvalue()


def model_tarball(bundle_dir: Path) -> bytes:
    """``model.tar.gz`` as SageMaker expects it: the bundle's files at the archive root."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        for path in sorted(bundle_dir.rglob("*")):
            if path.is_file():
                archive.add(path, arcname=str(path.relative_to(bundle_dir)))
    return buffer.getvalue()
