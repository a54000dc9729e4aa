"""scripts/sam_local_template.py: the scikit-learn layer attached under sam local exactly when needed."""

from __future__ import annotations

import pytest

from scripts.sam_local_template import resolve_layers
from tests.cfn import load_template, long_form


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
