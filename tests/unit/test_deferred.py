"""textclf_api.deferred: pydantic models created inside the block are built on first use, the
default is put back afterwards (exception or not), and without pydantic's private default the
block changes nothing."""

from __future__ import annotations

import pytest
from pydantic import BaseModel, ConfigDict
from pydantic._internal import _config

from textclf_api import deferred
from textclf_api.deferred import models_built_on_first_use


def test_models_created_inside_are_built_on_first_use() -> None:
    with models_built_on_first_use() as changed:

        class Inside(BaseModel):
            x: int

    class Outside(BaseModel):
        x: int

    assert changed
    assert not Inside.__pydantic_complete__  # no validator yet
    assert Outside.__pydantic_complete__
    assert Inside(x=1).x == 1  # built now, once, and it validates as any model
    assert Inside.__pydantic_complete__
    with pytest.raises(ValueError, match="valid integer"):
        Inside(x="one")  # type: ignore[arg-type]
    assert Inside.model_json_schema() == Outside.model_json_schema() | {"title": "Inside"}


def test_a_model_with_its_own_setting_keeps_it() -> None:
    with models_built_on_first_use():

        class Eager(BaseModel):
            model_config = ConfigDict(defer_build=False)
            x: int

    assert Eager.__pydantic_complete__


def test_the_default_is_restored_when_the_block_raises() -> None:
    before = _config.config_defaults["defer_build"]
    with pytest.raises(RuntimeError), models_built_on_first_use():
        assert _config.config_defaults["defer_build"] is True
        raise RuntimeError("import failed")
    assert _config.config_defaults["defer_build"] == before


def test_without_pydantics_default_the_block_changes_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    assert deferred._defaults() is _config.config_defaults
    without = {k: v for k, v in _config.config_defaults.items() if k != "defer_build"}
    monkeypatch.setattr(_config, "config_defaults", without)  # a pydantic that has no such default
    with models_built_on_first_use() as changed:
        assert not changed
    assert _config.config_defaults == without
    monkeypatch.setattr(_config, "config_defaults", None)  # or no defaults at all
    with models_built_on_first_use() as changed:
        assert not changed
