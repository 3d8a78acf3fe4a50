"""Read ``infra/template.yaml`` and run the SAM transform offline, with no AWS call.

The tests and the local cloud both need the CloudFormation that AWS would deploy.
:func:`translate` runs the same translator CloudFormation runs for
``AWS::Serverless-2016-10-31``, after making the template's local paths
self-contained: each function's local ``CodeUri`` becomes a placeholder S3
location (the caller learns where the code really is), and each local state
machine ``DefinitionUri`` is inlined.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from sfn_workbench.intrinsics import NO_VALUE, Resolver, TemplateError

#: Stands in for the artifact location ``sam package`` or ``aws cloudformation package`` would upload to.
PLACEHOLDER_BUCKET = "sfn-inference-local-artifacts"
#: Where a translation is pretended to run; only ARNs in SAM's generated policies depend on it.
DEFAULT_REGION = "us-east-1"


def load_template(path: Path) -> dict[str, Any]:
    """The template as plain data, short tags (``!Ref``, ``!Sub``...) in their long form."""
    from cfn_flip import load_yaml  # noqa: PLC0415 - a dev/local dependency, not a Lambda one

    template: dict[str, Any] = load_yaml(path.read_text())
    return template


def translate(
    template: Mapping[str, Any],
    template_dir: Path,
    parameter_overrides: Mapping[str, str] | None = None,
) -> tuple[dict[str, Any], dict[str, Path]]:
    """SAM -> CloudFormation, plus ``{function logical id: local code directory}``.

    ``template_dir`` is the directory relative paths in the template start from.
    ``parameter_overrides`` is handed to the translator only; the returned
    ``Parameters`` keep their defaults, for whoever deploys it to apply.
    """
    sam = copy.deepcopy(dict(template))
    code_dirs: dict[str, Path] = {}
    for logical_id, resource in sam.get("Resources", {}).items():
        props = resource.get("Properties", {})
        if resource.get("Type") == "AWS::Serverless::Function" and _is_local(props.get("CodeUri")):
            code_dirs[logical_id] = (template_dir / props["CodeUri"]).resolve()
            props["CodeUri"] = {"Bucket": PLACEHOLDER_BUCKET, "Key": f"{logical_id}.zip"}
        if resource.get("Type") == "AWS::Serverless::StateMachine" and _is_local(props.get("DefinitionUri")):
            props["Definition"] = json.loads((template_dir / props.pop("DefinitionUri")).read_text())

    parameters = {"AWS::Region": DEFAULT_REGION, "AWS::Partition": "aws", **(parameter_overrides or {})}
    cfn = _transform(sam, parameters)
    for resource in cfn["Resources"].values():
        if resource["Type"] == "AWS::StepFunctions::StateMachine":
            _collapse_definition(resource["Properties"])
    return cfn, code_dirs


def resolver(template: Mapping[str, Any], parameters: Mapping[str, str]) -> Resolver:
    """The one intrinsic resolver, over this template's parameters (defaults fill the rest) and
    conditions; a Ref or GetAtt to a resource is an error, since nothing is deployed here."""
    values = {name: str(spec.get("Default", "")) for name, spec in template.get("Parameters", {}).items()}
    values.update(parameters)

    def no_resources(*names: str) -> Any:
        raise TemplateError(f"{'.'.join(names)} names a resource: only parameters resolve before deploying")

    return Resolver(values, template.get("Conditions", {}), no_resources, no_resources)


def conditions(template: Mapping[str, Any], parameters: Mapping[str, str]) -> dict[str, bool]:
    """Every condition's value for these parameter values (defaults fill the rest)."""
    resolve = resolver(template, parameters)
    return {name: resolve.condition(name) for name in template.get("Conditions", {})}


def apply_conditions(template: Mapping[str, Any], parameters: Mapping[str, str]) -> dict[str, Any]:
    """The template as deployed with these parameters: resources and outputs whose
    condition is false removed, every ``Fn::If`` replaced by its branch, ``AWS::NoValue`` dropped."""
    resolve = resolver(template, parameters)

    def select(node: Any) -> Any:
        if isinstance(node, list):
            return [item for item in map(select, node) if item is not NO_VALUE]
        if not isinstance(node, dict):
            return node
        if set(node) == {"Fn::If"}:
            name, then, otherwise = node["Fn::If"]
            return select(then if resolve.condition(name) else otherwise)
        if node == {"Ref": "AWS::NoValue"}:
            return NO_VALUE
        return {k: v for k, v in ((k, select(v)) for k, v in node.items()) if v is not NO_VALUE}

    result = dict(template)
    for section in ("Resources", "Outputs"):
        kept = {
            k: v
            for k, v in template.get(section, {}).items()
            if "Condition" not in v or resolve.condition(v["Condition"])
        }
        result[section] = select(kept)
    return result


def _transform(sam: dict[str, Any], parameters: dict[str, Any]) -> dict[str, Any]:
    """``samtranslator.translator.transform.transform``, but with its two AWS touch points made local.

    ``transform`` builds a boto3 Session from the environment and fails without a
    configured region (even when ``AWS::Region`` is given), and resolves managed
    policy names with IAM ListPolicies. Here the Session gets the region explicitly
    and the policy map is the one bundled with the translator.
    """
    import boto3  # noqa: PLC0415
    from samtranslator.internal.managed_policies import get_bundled_managed_policy_map  # noqa: PLC0415
    from samtranslator.parser.parser import Parser  # noqa: PLC0415
    from samtranslator.translator.translator import Translator  # noqa: PLC0415
    from samtranslator.utils.py27hash_fix import (  # noqa: PLC0415
        to_py27_compatible_template,
        undo_mark_unicode_str_in_template,
    )

    policies = dict(get_bundled_managed_policy_map(parameters["AWS::Partition"]) or {})
    session = boto3.session.Session(region_name=parameters["AWS::Region"])
    to_py27_compatible_template(sam, parameters)
    translated = Translator(None, Parser(), boto_session=session).translate(
        sam, parameter_values=parameters, get_managed_policy_map=lambda: policies
    )
    cfn: dict[str, Any] = undo_mark_unicode_str_in_template(translated)
    return cfn


def _is_local(uri: Any) -> bool:
    return isinstance(uri, str) and not uri.startswith("s3://")


def _collapse_definition(props: dict[str, Any]) -> None:
    """SAM emits an inline ``Definition`` as ``Fn::Join`` of its JSON lines; make it the string."""
    definition = props.get("DefinitionString")
    if isinstance(definition, dict) and set(definition) == {"Fn::Join"}:
        separator, parts = definition["Fn::Join"]
        if all(isinstance(p, str) for p in parts):
            props["DefinitionString"] = separator.join(parts)
