"""scripts/sam_local_template.py: the scikit-learn layer attached under sam local exactly when needed."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from scripts.sam_local_template import resolve_layers
from tests.helpers import ROOT
from tests.unit.test_template import load_template


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


@pytest.mark.parametrize(
    ("backend", "layers"),
    [
        ("joblib", ["DepsLayer", "SklearnLayer", "CommonLayer", "ModelLayer"]),
        ("lean", ["DepsLayer", "CommonLayer", "ModelLayer"]),
    ],
)
def test_layers_follow_model_backend(backend: str, layers: list[str]) -> None:
    template = resolve_layers(long_form(load_template()), {"ModelBackend": backend})
    assert [layer["Ref"] for layer in template["Globals"]["Function"]["Layers"]] == layers


def test_default_parameter_value_applies() -> None:
    template = resolve_layers(long_form(load_template()), {})
    assert {"Ref": "SklearnLayer"} not in template["Globals"]["Function"]["Layers"]


def test_cli_writes_beside_the_input_and_rejects_unknown_parameters(tmp_path: Path) -> None:
    built = tmp_path / "template.yaml"
    built.write_text(yaml.safe_dump(long_form(load_template())), encoding="utf-8")
    script = str(ROOT / "scripts" / "sam_local_template.py")
    ok = subprocess.run(
        [sys.executable, script, str(built), str(tmp_path / "local.yaml"), "ModelBackend=joblib"],
        capture_output=True,
        text=True,
    )
    assert ok.returncode == 0, ok.stderr
    local = yaml.safe_load((tmp_path / "local.yaml").read_text(encoding="utf-8"))
    assert {"Ref": "SklearnLayer"} in local["Globals"]["Function"]["Layers"]

    bad = subprocess.run(
        [sys.executable, script, str(built), str(tmp_path / "x.yaml"), "NoSuchParam=1"],
        capture_output=True,
        text=True,
    )
    assert bad.returncode == 2
    assert bad.stderr.startswith("error:") and "NoSuchParam" in bad.stderr
