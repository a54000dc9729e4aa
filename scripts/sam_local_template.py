"""Templates that ``sam local`` runs exactly as CloudFormation would deploy them.

``template.yaml`` attaches the scikit-learn layer with ``!If [UseSklearn, !Ref SklearnLayer,
!Ref AWS::NoValue]`` in ``Globals.Function.Layers``, and ``SklearnLayer`` itself has
``Condition: UseSklearn``. CloudFormation resolves both; SAM CLI does neither: ``sam build``
builds the 146 MB scikit-learn layer even for a lean model, and ``sam local`` logs "layer ... is
not recognizable, it might be using intrinsic functions that we don't support yet. Skipping." and
runs the function without the layer, so a model that needs scikit-learn fails to load.

Two modes, for the given parameter values (template defaults, then ``Name=Value`` arguments):

- ``--source TEMPLATE OUTPUT``: the source template with every ``Fn::If`` resolved, the
  resources whose ``Condition`` is false removed (with ``Outputs``, which ``sam local`` never
  reads), and ``CodeUri``/``ContentUri``/``DefinitionUri`` made relative to OUTPUT's folder.
  ``make local-template``
  builds it with ``sam build --cached``, so only what changed is rebuilt and a lean model never
  builds the scikit-learn layer. OUTPUT is rewritten only when its content changes, so Make can
  use it as a prerequisite.
- ``BUILT_TEMPLATE OUTPUT``: a copy of a template ``sam build`` wrote, with the ``Fn::If`` in
  ``Layers`` lists resolved, written beside it (the tests' session build uses this).

Usage: python scripts/sam_local_template.py [--source] INPUT OUTPUT [Name=Value ...]
       (e.g. --source template.yaml .aws-sam/local/template.yaml ModelBackend=lean)
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

import yaml

# CloudFormation short-form tags and the long form ``sam build`` writes (and CloudFormation reads).
_LONG_FORM = {"Ref": "Ref", "Condition": "Condition"}


# PyYAML has no type hints here (yaml is Any to mypy)
class _CfnLoader(yaml.SafeLoader):  # type: ignore[misc]
    """Reads ``!Ref x`` as ``{"Ref": "x"}``, ``!If [...]`` as ``{"Fn::If": [...]}``, and so on."""


def _short_form(loader: yaml.SafeLoader, suffix: str, node: yaml.Node) -> Any:
    key = _LONG_FORM.get(suffix, f"Fn::{suffix}")
    if isinstance(node, yaml.ScalarNode):
        scalar = loader.construct_scalar(node)
        if key == "Fn::GetAtt":
            return {key: scalar.split(".", 1)}
        return {key: scalar}
    if isinstance(node, yaml.SequenceNode):
        return {key: loader.construct_sequence(node, deep=True)}
    return {key: loader.construct_mapping(node, deep=True)}


_CfnLoader.add_multi_constructor("!", _short_form)


def load_template(path: Path) -> dict[str, Any]:
    """A SAM/CloudFormation template (short or long form) as plain data in long form."""
    data = yaml.load(path.read_text(encoding="utf-8"), Loader=_CfnLoader)  # noqa: S506 - SafeLoader subclass
    if not isinstance(data, dict):
        raise ValueError(f"{path} is not a template")
    return data


def evaluate(condition: Any, conditions: dict[str, Any], params: dict[str, Any]) -> bool:
    """The value of a condition built from Fn::Equals / Not / And / Or / Condition over parameters.

    ``params`` maps parameter names to values: strings, or lists for ``CommaDelimitedList``
    parameters (a string value of such a parameter is split at commas where a list is needed).
    """
    if isinstance(condition, str):
        return evaluate(conditions[condition], conditions, params)
    (fn, args), *_ = condition.items()
    if fn == "Fn::Equals":
        left, right = (value(a, params) for a in args)
        return left == right
    if fn == "Fn::Not":
        return not evaluate(args[0], conditions, params)
    if fn == "Fn::And":
        return all(evaluate(a, conditions, params) for a in args)
    if fn == "Fn::Or":
        return any(evaluate(a, conditions, params) for a in args)
    if fn == "Condition":
        return evaluate(conditions[args], conditions, params)
    raise ValueError(f"unsupported condition function {fn}")


def value(node: Any, params: dict[str, Any]) -> str:
    """A condition operand as a string: a literal, a parameter ``Ref``, or an ``Fn::Join``."""
    if isinstance(node, dict) and set(node) == {"Ref"}:
        found = params[node["Ref"]]
        return ",".join(found) if isinstance(found, list) else str(found)
    if isinstance(node, dict) and set(node) == {"Fn::Join"}:
        separator, items = node["Fn::Join"]
        if isinstance(items, dict) and set(items) == {"Ref"}:  # a CommaDelimitedList parameter
            found = params[items["Ref"]]
            parts = found if isinstance(found, list) else str(found).split(",")
        else:
            parts = [value(item, params) for item in items]
        return str(separator).join(parts)
    return str(node)


def parameter_values(template: dict[str, Any], overrides: dict[str, str]) -> dict[str, str]:
    """Each parameter's value: its default, replaced by ``overrides`` (which must all be parameters)."""
    params = {
        name: str(spec.get("Default", ""))
        for name, spec in (template.get("Parameters") or {}).items()
        if isinstance(spec, dict)
    }
    unknown = set(overrides) - set(params)
    if unknown:
        raise ValueError(f"not template parameters: {', '.join(sorted(unknown))}")
    params.update(overrides)
    return params


def resolve_conditions(template: dict[str, Any], overrides: dict[str, str]) -> dict[str, Any]:
    """``template`` as deployed with these parameters: every ``Fn::If`` replaced by its branch
    (``AWS::NoValue`` branches removed), resources whose Condition is false dropped, no Outputs."""
    params = parameter_values(template, overrides)
    conditions = template.get("Conditions") or {}
    no_value = object()

    def walk(node: Any) -> Any:
        if isinstance(node, dict):
            if set(node) == {"Fn::If"}:
                name, when_true, when_false = node["Fn::If"]
                return walk(when_true if evaluate(name, conditions, params) else when_false)
            if node == {"Ref": "AWS::NoValue"}:
                return no_value
            out = {k: walk(v) for k, v in node.items()}
            return {k: v for k, v in out.items() if v is not no_value}
        if isinstance(node, list):
            return [v for v in (walk(item) for item in node) if v is not no_value]
        return node

    resources = {
        name: resource
        for name, resource in (template.get("Resources") or {}).items()
        if "Condition" not in resource or evaluate(resource["Condition"], conditions, params)
    }
    resolved = {k: v for k, v in template.items() if k not in {"Resources", "Outputs"}}
    resolved["Resources"] = walk(resources)
    resolved["Globals"] = walk(template.get("Globals") or {})
    return resolved


def relocate(template: dict[str, Any], source_dir: Path, output_dir: Path) -> dict[str, Any]:
    """``template`` with relative CodeUri/ContentUri/DefinitionUri paths rewritten for a copy in
    ``output_dir``."""
    for resource in (template.get("Resources") or {}).values():
        props = resource.get("Properties") or {}
        for key in ("CodeUri", "ContentUri", "DefinitionUri"):
            uri = props.get(key)
            if isinstance(uri, str) and "://" not in uri and not os.path.isabs(uri):
                target = os.path.relpath((source_dir / uri).resolve(), output_dir.resolve())
                props[key] = target + ("/" if uri.endswith("/") else "")
    return template


def resolve_layers(template: dict[str, Any], overrides: dict[str, str]) -> dict[str, Any]:
    """``template`` with each ``Fn::If`` in a Layers list replaced by its chosen branch."""
    params = parameter_values(template, overrides)
    conditions = template.get("Conditions") or {}

    def pick(layers: list[Any]) -> list[Any]:
        out = []
        for layer in layers:
            if isinstance(layer, dict) and set(layer) == {"Fn::If"}:
                name, when_true, when_false = layer["Fn::If"]
                layer = when_true if evaluate(name, conditions, params) else when_false
            if layer != {"Ref": "AWS::NoValue"}:
                out.append(layer)
        return out

    function_globals = (template.get("Globals") or {}).get("Function") or {}
    if "Layers" in function_globals:
        function_globals["Layers"] = pick(function_globals["Layers"])
    for resource in (template.get("Resources") or {}).values():
        props = resource.get("Properties") or {}
        if resource.get("Type") == "AWS::Serverless::Function" and "Layers" in props:
            props["Layers"] = pick(props["Layers"])
    return template


def write_if_changed(path: Path, text: str) -> bool:
    """Write ``text`` to ``path`` unless it already holds exactly that; True when written."""
    if path.is_file() and path.read_text(encoding="utf-8") == text:
        return False
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return True


def main(argv: list[str]) -> int:
    source_mode = bool(argv) and argv[0] == "--source"
    if source_mode:
        argv = argv[1:]
    if len(argv) < 2:
        print(__doc__.strip().splitlines()[-2], file=sys.stderr)
        return 2
    source, output = Path(argv[0]), Path(argv[1])
    try:
        overrides = dict(arg.split("=", 1) for arg in argv[2:])
        if source_mode:
            template = resolve_conditions(load_template(source), overrides)
            resolved = relocate(template, source.parent, output.parent)
        else:
            template = yaml.safe_load(source.read_text(encoding="utf-8"))
            resolved = resolve_layers(template, overrides)
    except (OSError, ValueError, KeyError, yaml.YAMLError) as exc:
        print(f"error: cannot prepare {source} for sam local: {exc}", file=sys.stderr)
        return 2
    if not source_mode and output.resolve().parent != source.resolve().parent:
        print("error: write the output beside the built template (relative paths)", file=sys.stderr)
        return 2
    write_if_changed(output, yaml.safe_dump(resolved, sort_keys=False))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
