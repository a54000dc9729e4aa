"""scripts/sam_local_template.py: the scikit-learn layer attached under sam local exactly when needed."""

from __future__ import annotations

from pathlib import Path

import pytest

from scripts.sam_local_template import relocate, resolve_layers
from tests.cfn import load_template, long_form
from tests.helpers import ROOT


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


def test_every_local_path_of_the_template_points_at_the_same_file_from_the_copy(tmp_path: Path) -> None:
    """The local template lives in .aws-sam/local/: every relative path in it (function code,
    layer content, the state machine's definition) must still name the file the source names."""
    output_dir = tmp_path / ".aws-sam" / "local"
    output_dir.mkdir(parents=True)
    source = load_template()
    copied = relocate(long_form(load_template()), ROOT, output_dir)
    checked = 0
    for name, resource in source["Resources"].items():
        for key in ("CodeUri", "ContentUri", "DefinitionUri"):
            uri = (resource.get("Properties") or {}).get(key)
            if isinstance(uri, str):
                moved = copied["Resources"][name]["Properties"][key]
                assert (output_dir / moved).resolve() == (ROOT / uri).resolve(), (name, key)
                assert Path(ROOT / uri).exists(), (name, key, uri)
                checked += 1
    assert checked >= 8
