"""samconfig.toml: every sam local command uses the local image and never pulls from a registry."""

from __future__ import annotations

import tomllib

import pytest

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
