"""Lean parity on the real shared datasets (skipped without ../shared/datasets)."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from tests.helpers import shared_dataset
from textclf.model import load_predictor
from training.export_lean import ADVERSARIAL_TEXTS, PARITY_TOLERANCE
from training.pipeline import ModelOptions
from training.train import TrainConfig, train

pytestmark = pytest.mark.dataset

# banking77 with the default five calibration folds takes a minute here; two folds
# exercise the same code paths (77 one-vs-rest margins, 77 sigmoids) in a third of it.
LIGHTER = {"banking77.csv": ModelOptions(calibration_folds=2)}


@pytest.fixture(scope="module", params=["sms_spam.csv", "banking77.csv"])
def trained(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    data = shared_dataset(request.param)
    output = tmp_path_factory.mktemp(request.param.removesuffix(".csv"))
    options = LIGHTER.get(request.param, ModelOptions())
    train(TrainConfig(data=data, output=output, options=options))
    return data, output / "model"


def test_lean_is_exported_and_matches_joblib_on_every_row(trained: tuple[Path, Path]) -> None:
    data, model = trained
    lean = load_predictor(model)
    assert lean.backend == "lean", lean.manifest.backends.lean_unavailable
    parity = lean.manifest.to_json()["backends"]["lean"]["parity"]
    assert parity["texts"] >= lean.manifest.to_json()["data"]["n_test"] + len(ADVERSARIAL_TEXTS)
    assert parity["max_abs_diff"] <= PARITY_TOLERANCE

    with data.open(encoding="utf-8", newline="") as fh:
        texts = [row["text"] for row in csv.DictReader(fh)]
    expected = load_predictor(model, "joblib").predict(texts)
    got = lean.predict(texts)
    assert [p["label"] for p in got] == [p["label"] for p in expected]
    worst = max(
        abs(g["scores"][c] - e["scores"][c]) for g, e in zip(got, expected, strict=True) for c in e["scores"]
    )
    assert worst <= PARITY_TOLERANCE
