"""The fan-out's step handlers share one start-up (textclf_fanout.startup): the logger, the
settings and the S3 client; the plan step loads no model."""

from __future__ import annotations

import importlib
import sys
from collections.abc import Iterator

import pytest

import textclf.model
from tests.conftest import reset_caches


@pytest.fixture
def fresh_steps(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The handler modules imported afresh (as Lambda's init does), and put back after."""
    names = [
        "textclf_batch.runtime",
        "textclf_fanout.startup",
        *(f"textclf_fanout.{step}" for step in ("plan_main", "score_main", "publish_main")),
    ]
    saved = {name: sys.modules.pop(name) for name in names if name in sys.modules}
    reset_caches()
    yield
    for name in names:
        sys.modules.pop(name, None)
    sys.modules.update(saved)
    reset_caches()


@pytest.mark.usefixtures("fresh_steps")
def test_the_plan_step_starts_without_a_model(monkeypatch: pytest.MonkeyPatch) -> None:
    def no_model(*_: object) -> None:
        raise AssertionError("the plan step loaded a model")

    monkeypatch.setattr(textclf.model, "get_predictor", no_model)
    monkeypatch.setenv("WORK_PREFIX", "work/")
    plan_main = importlib.import_module("textclf_fanout.plan_main")
    assert plan_main.settings.work_prefix == "work/"
    assert plan_main.s3.meta.service_model.service_name == "s3"
    assert plan_main.s3.meta.config.retries == {"mode": "standard", "total_max_attempts": 5}
    assert not hasattr(plan_main, "predictor")


@pytest.mark.usefixtures("fresh_steps")
def test_a_bad_setting_fails_the_start_up(monkeypatch: pytest.MonkeyPatch) -> None:
    from textclf.settings import SettingsError

    monkeypatch.setenv("FANOUT_RANGE_BYTES", "a lot")
    with pytest.raises(SettingsError):
        importlib.import_module("textclf_fanout.plan_main")
