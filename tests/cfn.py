"""template.yaml for tests: as written (``load_template``, short-form tags kept as data; ``long_form``,
as ``sam build`` writes it), and as CloudFormation would deploy it (``deployed``: SAM's own transform,
the aws-sam-translator that ``sam deploy`` runs, for given parameter values, then conditions,
``Fn::If``, ``AWS::NoValue`` and parameter ``Ref``s resolved, so tests assert the concrete resources)."""

from __future__ import annotations

import copy
import os
from functools import cache
from typing import Any

import yaml
from samtranslator.translator.transform import transform
from samtranslator.yaml_helper import yaml_parse

from scripts.sam_local_template import evaluate
from tests.helpers import ROOT

_NO_VALUE = object()


class _Loader(yaml.SafeLoader):
    """YAML loader that keeps CloudFormation short-form tags (!Ref, !Sub, ...) as plain data."""


def _any_tag(loader: yaml.SafeLoader, suffix: str, node: yaml.Node) -> Any:
    if isinstance(node, yaml.ScalarNode):
        return {suffix: loader.construct_scalar(node)}
    if isinstance(node, yaml.SequenceNode):
        return {suffix: loader.construct_sequence(node, deep=True)}
    return {suffix: loader.construct_mapping(node, deep=True)}  # type: ignore[arg-type]


_Loader.add_multi_constructor("!", _any_tag)


def load_template() -> dict[str, Any]:
    """template.yaml as written, short-form tags (``!Ref x``) as one-key dicts (``{'Ref': 'x'}``)."""
    return yaml.load((ROOT / "template.yaml").read_text(), Loader=_Loader)  # noqa: S506


def long_form(node: Any) -> Any:
    """The template as ``sam build`` writes it: ``!If`` becomes ``Fn::If``, ``!Ref`` stays ``Ref``."""
    if isinstance(node, dict):
        if len(node) == 1:
            (key, value), *_ = node.items()
            if key in {"If", "Equals", "Sub", "GetAtt", "Not", "And", "Or"}:
                return {f"Fn::{key}": long_form(value)}
        return {k: long_form(v) for k, v in node.items()}
    if isinstance(node, list):
        return [long_form(v) for v in node]
    return node


class _NoPolicies:
    """The managed-policy loader the transform asks for (our template names no managed policy)."""

    def load(self) -> dict[str, str]:
        return {}


def parameters(template: dict[str, Any], overrides: dict[str, str]) -> dict[str, Any]:
    """Parameter values: defaults, then ``overrides``; CommaDelimitedList values as lists."""
    specs = template.get("Parameters") or {}
    unknown = set(overrides) - set(specs)
    assert not unknown, f"not template parameters: {unknown}"
    values: dict[str, Any] = {}
    for name, spec in specs.items():
        raw = str(overrides.get(name, spec.get("Default", "")))
        values[name] = raw.split(",") if spec["Type"] == "CommaDelimitedList" else raw
    return values


def condition(name_or_expr: Any, conditions: dict[str, Any], params: dict[str, Any]) -> bool:
    """A condition's value: the same evaluator ``make invoke``'s local template uses."""
    return evaluate(name_or_expr, conditions, params)


def resolve(node: Any, conditions: dict[str, Any], params: dict[str, Any]) -> Any:
    """``node`` with Fn::If / Fn::Join / parameter Refs evaluated and AWS::NoValue dropped."""
    if isinstance(node, list):
        items = [resolve(item, conditions, params) for item in node]
        return [item for item in items if item is not _NO_VALUE]
    if not isinstance(node, dict):
        return node
    if set(node) == {"Ref"}:
        if node["Ref"] == "AWS::NoValue":
            return _NO_VALUE
        return params.get(node["Ref"], node)
    if set(node) == {"Fn::If"}:
        name, then, otherwise = node["Fn::If"]
        return resolve(then if condition(name, conditions, params) else otherwise, conditions, params)
    if set(node) == {"Fn::Join"}:
        sep, items = node["Fn::Join"]
        items = resolve(items, conditions, params)
        if isinstance(items, list) and all(isinstance(i, str) for i in items):
            return sep.join(items)
        return {"Fn::Join": [sep, items]}
    out = {}
    for key, value in node.items():
        value = resolve(value, conditions, params)
        if value is not _NO_VALUE:
            out[key] = value
    return out


@cache
def _transformed(overrides: tuple[tuple[str, str], ...]) -> dict[str, Any]:
    template = yaml_parse((ROOT / "template.yaml").read_text())
    for resource in template["Resources"].values():
        props = resource.get("Properties") or {}
        for key in ("CodeUri", "ContentUri", "DefinitionUri"):  # sam package would have uploaded these
            if isinstance(props.get(key), str):
                props[key] = f"s3://example-bucket/{key}"
    values = parameters(template, dict(overrides))
    os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
    output: dict[str, Any] = transform(template, values, _NoPolicies())
    conditions = output.get("Conditions") or {}
    resources = {}
    for logical_id, resource in output["Resources"].items():
        if "Condition" in resource and not condition(resource["Condition"], conditions, values):
            continue
        resources[logical_id] = resolve(resource, conditions, values)
    outputs = {}
    for name, out in (output.get("Outputs") or {}).items():
        if "Condition" in out and not condition(out["Condition"], conditions, values):
            continue
        outputs[name] = resolve(out, conditions, values)
    return {**output, "Resources": resources, "Outputs": outputs, "ParameterValues": values}


def deployed(**overrides: str) -> dict[str, Any]:
    """The CloudFormation template for these parameter values, conditions resolved (a copy)."""
    return copy.deepcopy(_transformed(tuple(sorted(overrides.items()))))
