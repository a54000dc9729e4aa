"""SnapStart: the before-snapshot hook warms the model and the request path."""

from __future__ import annotations

from pathlib import Path

import pytest
import snapshot_restore_py

from tests.cfn import load_template
from tests.conftest import reset_caches
from tests.helpers import load_function
from textclf_api.snapstart import register_before_snapshot, warm_api


def test_api_registers_a_hook_that_runs_a_prediction(
    model_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(snapshot_restore_py, "_before_snapshot_registry", [])
    monkeypatch.setenv("MODEL_DIR", str(model_dir))
    reset_caches()
    try:
        api = load_function("api")
    finally:
        reset_caches()
    hooks = snapshot_restore_py.get_before_snapshot()
    assert len(hooks) == 1
    seen: list[list[str]] = []
    real_predict = api.predictor.predict
    monkeypatch.setattr(
        api.predictor, "predict", lambda texts: seen.append(list(texts)) or real_predict(texts)
    )
    func, args, kwargs = hooks[0]
    func(*args, **kwargs)  # what the Lambda runtime does before taking the snapshot
    assert len(seen) == 1 and seen[0][0].startswith("warm-up")


def test_warm_up_fails_loudly_when_the_app_is_broken() -> None:
    def broken(event, context):
        return {"statusCode": 500}

    with pytest.raises(RuntimeError, match="GET /health answered 500"):
        warm_api(broken)


def test_no_snapstart_runtime_is_a_no_op(monkeypatch: pytest.MonkeyPatch) -> None:
    import sys

    monkeypatch.setitem(sys.modules, "snapshot_restore_py", None)
    assert register_before_snapshot(lambda: None) is False


def test_template_enables_snapstart_on_published_versions() -> None:
    template = load_template()
    api = template["Resources"]["ApiFunction"]["Properties"]
    assert api["AutoPublishAlias"] == "live"
    assert api["SnapStart"] == {"ApplyOn": {"Ref": "SnapStart"}}
    assert template["Parameters"]["SnapStart"]["Default"] == "PublishedVersions"
