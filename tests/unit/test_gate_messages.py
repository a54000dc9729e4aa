"""What the quality and regression gates say about the model folder they leave alone: true
whether or not a model was there (no training: the gates' rules on given predictions)."""

from __future__ import annotations

from pathlib import Path

import pytest

from training.errors import QualityGateError
from training.gate import GateOptions, check_regression, left_as_is
from training.train import TrainConfig, check_gate

LABELS = ["a"] * 6 + ["b"] * 4
TRAIN_LABELS = ["a"] * 30 + ["b"] * 20


def make_folder(target: Path, layout: str) -> None:
    """``target`` as a model folder of one of these layouts (``model``: a manifest that will not load)."""
    if layout in ("empty", "others", "model"):
        target.mkdir(parents=True)
    if layout == "others":
        (target / "notes.txt").write_text("mine", encoding="utf-8")
    if layout == "model":
        (target / "manifest.json").write_text("{}", encoding="utf-8")


@pytest.mark.parametrize(
    ("layout", "expected"),
    [
        ("absent", "there is still no model in {t}"),
        ("empty", "there is still no model in {t}"),
        ("others", "there is still no model in {t}"),
        ("model", "{t} is unchanged"),
    ],
)
def test_left_as_is_says_unchanged_only_when_a_model_was_there(
    tmp_path: Path, layout: str, expected: str
) -> None:
    target = tmp_path / "layer" / "model"
    make_folder(target, layout)
    assert left_as_is(target) == expected.format(t=target)


@pytest.mark.parametrize("layout", ["absent", "empty", "others", "model"])
def test_the_regression_gate_refusal_is_true_about_the_folder(tmp_path: Path, layout: str) -> None:
    output = tmp_path / "layer"
    target = output / "model"
    make_folder(target, layout)
    majority = ["a"] * len(LABELS)  # never beats the majority-class baseline: always refused
    with pytest.raises(QualityGateError) as caught:
        check_regression(output, TRAIN_LABELS, ["t"] * len(LABELS), LABELS, majority, GateOptions())
    message = str(caught.value)
    assert "\n" not in message and "MODEL_DIR" not in message
    assert f"the model was not written and {left_as_is(target)} (--allow-regression" in message
    assert ("unchanged" in message) == (layout == "model")
    if layout == "others":  # files, but no manifest: no model to compare, and said so
        assert (
            f"there is no current model to compare with, but {target} holds files but no manifest.json"
            in (message)
        )
        assert "the current model in" not in message


@pytest.mark.parametrize("layout", ["absent", "empty", "others", "model"])
def test_the_quality_gate_refusal_is_true_about_the_folder(tmp_path: Path, layout: str) -> None:
    data = tmp_path / "d.csv"
    data.write_text("text,label\nhi,a\n", encoding="utf-8")
    output = tmp_path / "layer"
    make_folder(output / "model", layout)
    config = TrainConfig(data=data, output=output, min_accuracy=0.9, min_macro_f1=0.5)
    with pytest.raises(QualityGateError) as caught:
        check_gate({"accuracy": 0.8, "macro_f1": 0.7}, config)
    assert str(caught.value) == (
        "quality gate failed: accuracy 0.8000 < --min-accuracy 0.9; the model was not written and "
        f"{left_as_is(output / 'model')}"
    )
