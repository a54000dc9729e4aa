"""Write a copy of the built template that ``sam local`` attaches the right layers from.

``template.yaml`` attaches the scikit-learn layer with ``!If [UseSklearn, !Ref SklearnLayer,
!Ref AWS::NoValue]`` in ``Globals.Function.Layers``. CloudFormation resolves that; ``sam local``
does not: it logs "layer ... is not recognizable, it might be using intrinsic functions that we
don't support yet. Skipping." and runs the function without the layer, so a model that needs
scikit-learn (ModelBackend=joblib) fails to load. This script resolves every ``Fn::If`` in a
``Layers`` list (Globals and each function) for the given parameter values and writes the result
beside the input, so relative ``CodeUri``/``ContentUri`` paths stay valid.

Usage: python scripts/sam_local_template.py BUILT_TEMPLATE OUTPUT [Name=Value ...]
       (e.g. .aws-sam/build/template.yaml .aws-sam/build/template.local.yaml ModelBackend=joblib)
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import yaml


def evaluate(condition: Any, conditions: dict[str, Any], params: dict[str, str]) -> bool:
    """The value of a condition built from Fn::Equals / Not / And / Or / Condition over parameters."""
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


def value(node: Any, params: dict[str, str]) -> str:
    if isinstance(node, dict) and set(node) == {"Ref"}:
        return params[node["Ref"]]
    return str(node)


def resolve_layers(template: dict[str, Any], overrides: dict[str, str]) -> dict[str, Any]:
    """``template`` with each ``Fn::If`` in a Layers list replaced by its chosen branch."""
    params = {
        name: str(spec.get("Default", ""))
        for name, spec in (template.get("Parameters") or {}).items()
        if isinstance(spec, dict)
    }
    unknown = set(overrides) - set(params)
    if unknown:
        raise ValueError(f"not template parameters: {', '.join(sorted(unknown))}")
    params.update(overrides)
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


def main(argv: list[str]) -> int:
    if len(argv) < 2:
        print(__doc__.strip().splitlines()[-2], file=sys.stderr)
        return 2
    source, output = Path(argv[0]), Path(argv[1])
    try:
        overrides = dict(arg.split("=", 1) for arg in argv[2:])
        template = yaml.safe_load(source.read_text(encoding="utf-8"))
        resolved = resolve_layers(template, overrides)
    except (OSError, ValueError, KeyError, yaml.YAMLError) as exc:
        print(f"error: cannot prepare {source} for sam local: {exc}", file=sys.stderr)
        return 2
    if output.resolve().parent != source.resolve().parent:
        print("error: write the output beside the built template (relative paths)", file=sys.stderr)
        return 2
    output.write_text(yaml.safe_dump(resolved, sort_keys=False), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
