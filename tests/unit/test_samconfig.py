"""samconfig.toml: every sam local command uses the local image and never pulls from a registry."""

from __future__ import annotations

import re
import tomllib

import pytest
import yaml

from tests.helpers import ROOT


@pytest.mark.parametrize("command", ["local_invoke", "local_start_api", "local_start_lambda"])
def test_sam_local_uses_the_local_image_without_pulling(command: str) -> None:
    config = tomllib.loads((ROOT / "samconfig.toml").read_text(encoding="utf-8"))
    params = config["default"][command]["parameters"]
    assert params["invoke_image"] == ["textclf/lambda-python:3.13"]
    assert params["skip_pull_image"] is True
    if command != "local_invoke":
        assert params["host"] == "127.0.0.1"
        assert params["warm_containers"] == "EAGER"


def test_parameter_overrides_name_template_parameters() -> None:
    """Every parameter samconfig.toml overrides exists in template.yaml, with a value it allows."""

    class _Loader(yaml.SafeLoader):
        pass

    _Loader.add_multi_constructor("!", lambda loader, suffix, node: None)
    template = yaml.load((ROOT / "template.yaml").read_text(encoding="utf-8"), Loader=_Loader)
    declared = template["Parameters"]
    config = tomllib.loads((ROOT / "samconfig.toml").read_text(encoding="utf-8"))
    overrides = [
        item
        for section in config["default"].values()
        for item in str(section.get("parameters", {}).get("parameter_overrides", "")).split()
    ]
    assert overrides
    for item in overrides:
        name, value = item.split("=", 1)
        assert name in declared, f"samconfig.toml overrides {name}, which template.yaml does not declare"
        spec = declared[name]
        if "AllowedValues" in spec:
            assert value in spec["AllowedValues"]
        if spec.get("Type") == "Number":
            assert spec.get("MinValue", float("-inf")) <= float(value) <= spec.get("MaxValue", float("inf"))


def test_memory_figures_in_comments_are_set_here() -> None:
    """A memory size a comment quotes is one this file sets (template defaults live in template.yaml)."""
    text = (ROOT / "samconfig.toml").read_text(encoding="utf-8")
    comments = "\n".join(line for line in text.splitlines() if line.lstrip().startswith("#"))
    quoted = {
        float(n) * (1024 if unit == "GB" else 1)
        for n, unit in re.findall(r"(\d+(?:\.\d+)?)\s*(MB|GB)\b", comments)
    }
    set_here = {float(v) for v in re.findall(r"MemorySize=(\d+)", text)}
    assert quoted <= set_here, (
        f"comments quote {sorted(quoted - set_here)} MB, which samconfig.toml does not set"
    )
