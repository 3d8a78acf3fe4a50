"""CloudFormation intrinsic functions and conditions, resolved against a local deployment.

Only what a translated SAM template of this project uses, and every unknown
function is an error naming it: the local cloud never deploys a guess.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from typing import Any

NO_VALUE = object()
_SUB = re.compile(r"\$\{([^}!][^}]*)\}")


class TemplateError(Exception):
    """The template uses something the local cloud cannot resolve or deploy."""


class Resolver:
    def __init__(
        self,
        parameters: Mapping[str, Any],
        conditions: Mapping[str, Any],
        ref: Callable[[str], Any],
        get_att: Callable[[str, str], Any],
    ) -> None:
        self.parameters = parameters
        self._condition_defs = conditions
        self._condition_values: dict[str, bool] = {}
        self._ref = ref
        self._get_att = get_att

    def condition(self, name: str) -> bool:
        if name not in self._condition_values:
            if name not in self._condition_defs:
                raise TemplateError(f"unknown condition {name!r}")
            self._condition_values[name] = bool(self.resolve(self._condition_defs[name]))
        return self._condition_values[name]

    def ref(self, name: str) -> Any:
        if name in self.parameters:
            return self.parameters[name]
        if name == "AWS::NoValue":
            return NO_VALUE
        return self._ref(name)

    def resolve(self, value: Any) -> Any:
        if isinstance(value, list):
            return [v for v in (self.resolve(x) for x in value) if v is not NO_VALUE]
        if not isinstance(value, dict):
            return value
        if len(value) == 1:
            ((key, arg),) = value.items()
            if key == "Ref":
                return self.ref(arg)
            if key == "Condition":
                return self.condition(arg)
            if key.startswith("Fn::"):
                return self._function(key, arg)
        return {k: r for k, r in ((k, self.resolve(v)) for k, v in value.items()) if r is not NO_VALUE}

    def _function(self, name: str, arg: Any) -> Any:  # noqa: PLR0911 - one branch per function
        if name == "Fn::GetAtt":
            logical, attribute = arg.split(".", 1) if isinstance(arg, str) else arg
            return self._get_att(logical, self.resolve(attribute))
        if name == "Fn::Sub":
            template, variables = (arg, {}) if isinstance(arg, str) else (arg[0], self.resolve(arg[1]))
            return _SUB.sub(lambda m: str(self._sub_var(m.group(1), variables)), template).replace("${!", "${")
        if name == "Fn::Join":
            separator, items = arg
            return separator.join(str(x) for x in self.resolve(items))
        if name == "Fn::Select":
            index, items = self.resolve(arg)
            return items[int(index)]
        if name == "Fn::Split":
            separator, text = self.resolve(arg)
            return text.split(separator)
        if name == "Fn::If":
            condition, then, otherwise = arg
            return self.resolve(then if self.condition(condition) else otherwise)
        if name == "Fn::Equals":
            left, right = self.resolve(arg)
            return str(left) == str(right)
        if name == "Fn::Not":
            return not self.resolve(arg[0])
        if name == "Fn::And":
            return all(self.resolve(x) for x in arg)
        if name == "Fn::Or":
            return any(self.resolve(x) for x in arg)
        if name == "Fn::ToJsonString":
            return json.dumps(self.resolve(arg))
        if name == "Fn::GetAZs":
            return [f"{self.ref('AWS::Region')}{z}" for z in "abc"]
        raise TemplateError(f"intrinsic function {name} is not supported by the local cloud")

    def _sub_var(self, name: str, variables: Mapping[str, Any]) -> Any:
        if name in variables:
            return variables[name]
        if "." in name:
            logical, attribute = name.split(".", 1)
            return self._get_att(logical, attribute)
        return self.ref(name)


def dependencies(value: Any) -> set[str]:
    """Logical ids a resource's properties refer to (Ref, GetAtt, and ${...} in Sub)."""
    found: set[str] = set()
    if isinstance(value, list):
        for item in value:
            found |= dependencies(item)
    elif isinstance(value, dict):
        for key, arg in value.items():
            if key == "Ref" and isinstance(arg, str):
                found.add(arg)
            elif key == "Fn::GetAtt":
                found.add(arg.split(".", 1)[0] if isinstance(arg, str) else arg[0])
            elif key == "Fn::Sub":
                template = arg if isinstance(arg, str) else arg[0]
                found |= {m.split(".", 1)[0] for m in _SUB.findall(template)}
                if not isinstance(arg, str):
                    found |= dependencies(arg[1])
            else:
                found |= dependencies(arg)
    return found
