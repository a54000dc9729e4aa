"""Training and evaluating ignore the serving settings in the shell (issue 11, item 5).

The example: ``evaluate`` failed when the shell had an unrelated ``MAX_TEXT_CHARS=lots``,
because loading the model read the serving settings from the environment. The kind: no
library code reads them; only a Lambda handler does, once. Here every serving setting is
set to a value the service would refuse, and ``train`` then ``evaluate`` still succeed.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from pydantic import ValidationError

from tests.conftest import reset_caches
from textclf.settings import Settings, SettingsError, get_settings
from training.cli import main

FAST = ["--time-budget", "0", "--cv-folds", "2"]
WORDS = {"billing": "invoice refund charge payment card", "login": "password account locked reset email"}
CANDIDATES = ("not-a-number", "-1", "0", "maybe", "99999999999", "")


def bad_value(field: str) -> str:
    """A value the field refuses on its own, or (a free-form field) one no deployment would use."""
    for value in CANDIDATES:
        try:
            Settings.model_validate({field: value})
        except ValidationError:
            return value
    return "" if field.endswith("prefix") else "/nonexistent/-1"


def every_setting_bad() -> dict[str, str]:
    return {name.upper(): bad_value(name) for name in Settings.model_fields}


@pytest.mark.parametrize(
    "environment",
    [{"MAX_TEXT_CHARS": "lots"}, every_setting_bad()],
    ids=["issue-example", "every-setting-bad"],
)
def test_train_and_evaluate_ignore_serving_settings(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    environment: dict[str, str],
) -> None:
    data = tmp_path / "d.jsonl"
    lines = [
        json.dumps({"text": f"{words} number {i}", "label": label})
        for label, words in WORDS.items()
        for i in range(12)
    ]
    data.write_text("\n".join(lines) + "\n", encoding="utf-8")
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    reset_caches()
    try:
        with pytest.raises(SettingsError):  # the environment really is one the service refuses
            get_settings()
        layer = tmp_path / "layer"
        assert main(["train", "--data", str(data), "--output", str(layer), "--quiet", *FAST]) == 0
        assert capsys.readouterr().err == ""
        model_dir = layer / "model"
        assert main(["evaluate", "--model-dir", str(model_dir), "--data", str(data), "--json"]) == 0
        out, err = capsys.readouterr()
        assert json.loads(out)["n_test"] > 0
        # nothing about the environment: the one line is the overlap warning (the file is its training data)
        assert err.count("\n") == 1 and " evaluation rows are among the training rows of model " in err
        assert not any(name in err for name in environment)
    finally:
        monkeypatch.undo()
        reset_caches()
