"""Training that earns its deployment: tuning, evaluation outputs, quality gate,
reproducibility for every model family, ``evaluate``, and bad data."""

from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from tests.helpers import BUNDLED_DATA
from tests.training_cli import NO_SEARCH as FAST
from tests.training_cli import run_cli, tree_snapshot, write
from textclf.manifest import model_version, sha256_file
from textclf.model import load_predictor
from textclf.smoke import SMOKE_FILE
from training import train as train_module
from training.pipeline import FAMILIES
from training.report import CONFUSION_PLOT, MODEL_CARD, ROC_PLOT
from training.train import TrainConfig, train

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def split_files(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """The bundled data as a train file and a test file (every fifth row of each class)."""
    folder = tmp_path_factory.mktemp("split")
    with BUNDLED_DATA.open(encoding="utf-8", newline="") as fh:
        rows = list(csv.DictReader(fh))
    seen: dict[str, int] = {}
    parts: dict[str, list[dict[str, str]]] = {"train": [], "test": []}
    for row in rows:
        seen[row["label"]] = seen.get(row["label"], 0) + 1
        parts["test" if seen[row["label"]] % 5 == 0 else "train"].append(row)
    paths = []
    for name, part in parts.items():
        path = folder / f"{name}.csv"
        with path.open("w", encoding="utf-8", newline="") as fh:
            writer = csv.DictWriter(fh, fieldnames=["text", "label"])
            writer.writeheader()
            writer.writerows(part)
        paths.append(path)
    return paths[0], paths[1]


def test_manifest_reports_cv_test_metrics_and_roc(model_dir: Path) -> None:
    manifest = json.loads((model_dir / "manifest.json").read_text())
    cv = manifest["model"]["cv"]
    assert cv["complete"] and cv["folds"] == 5 and cv["scoring"] == "macro_f1"
    assert len(cv["candidates"]) == cv["stages_planned"] * 3  # every C of every stage
    best = cv["best"]
    assert best["params"]["C"] == manifest["model"]["params"]["C"]
    assert best["macro_f1_mean"] == max(c["macro_f1_mean"] for c in cv["candidates"])
    assert 0.7 < best["accuracy_mean"] <= 1 and best["accuracy_std"] >= 0
    metrics = manifest["metrics"]
    assert metrics["roc_auc_kind"] == "one-vs-rest macro" and 0.9 < metrics["roc_auc"] <= 1
    matrix = np.array(metrics["confusion_matrix"]["matrix"])
    assert metrics["confusion_matrix"]["labels"] == manifest["classes"]
    assert matrix.shape == (5, 5) and matrix.sum() == metrics["n_test"]
    assert np.trace(matrix) / matrix.sum() == pytest.approx(metrics["accuracy"], abs=1e-6)
    per_class_support = [metrics["per_class"][c]["support"] for c in manifest["classes"]]
    assert matrix.sum(axis=1).tolist() == per_class_support


def test_plots_and_card_are_listed_but_not_part_of_the_version(model_dir: Path) -> None:
    manifest = json.loads((model_dir / "manifest.json").read_text())
    # (training_rows.u64: the regression gate's fingerprint of the training rows, training/gate.py;
    # smoke.json: the deployment's pre-traffic smoke set, training/smoke.py)
    assert set(manifest["reports"]) == {ROC_PLOT, CONFUSION_PLOT, MODEL_CARD, "training_rows.u64", SMOKE_FILE}
    assert not set(manifest["reports"]) & set(manifest["files"])
    for name, entry in {**manifest["files"], **manifest["reports"]}.items():
        assert sha256_file(model_dir / name) == entry["sha256"]
    # the version is the content hash of the model files alone
    assert manifest["version"] == model_version({n: f["sha256"] for n, f in manifest["files"].items()})
    for plot in (ROC_PLOT, CONFUSION_PLOT):
        assert (model_dir / plot).read_bytes().startswith(PNG_MAGIC)
    card = (model_dir / MODEL_CARD).read_text()
    assert manifest["version"] in card
    assert f"Accuracy: {manifest['metrics']['accuracy']:.4f}" in card
    assert "| billing | 118 | 20.0% |" in card and "Known limitations" in card
    assert f"{manifest['model']['cv']['best']['macro_f1_mean']:.4f}" in card


@pytest.mark.parametrize("family", [f for f in FAMILIES if f != "linear-svm"])
def test_each_family_is_reproducible_and_scores_are_probabilities(
    family: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Same data and options give the same version, whether calibration ran in one process or two.

    (The search itself is the same code for every family; the default family's full
    search is checked by test_training.py::test_same_data_same_version.)"""
    config = {"data": BUNDLED_DATA, "family": family, "cv_folds": 3, "time_budget": 0.0}
    first = train(TrainConfig(output=tmp_path / "a", n_jobs=1, **config))  # type: ignore[arg-type]
    monkeypatch.setattr(train_module, "PARALLEL_MIN_ROWS", 0)
    again = train(TrainConfig(output=tmp_path / "b", n_jobs=2, **config))  # type: ignore[arg-type]
    assert again["version"] == first["version"] and again["files"] == first["files"]
    assert first["model"]["family"] == family and first["metrics"]["accuracy"] > 0.7
    predictor = load_predictor(tmp_path / "a" / "model", backend="joblib")
    for prediction in predictor.predict(["my parcel never arrived", "reset my password please"]):
        assert sum(prediction["scores"].values()) == pytest.approx(1.0, abs=1e-9)
        assert all(0.0 <= s <= 1.0 for s in prediction["scores"].values())


def test_linear_svm_is_reproducible_across_worker_counts(tmp_path: Path, monkeypatch) -> None:
    first = train(TrainConfig(data=BUNDLED_DATA, output=tmp_path / "a", n_jobs=1, time_budget=0))
    monkeypatch.setattr(train_module, "PARALLEL_MIN_ROWS", 0)
    again = train(TrainConfig(data=BUNDLED_DATA, output=tmp_path / "b", n_jobs=2, time_budget=0))
    assert again["version"] == first["version"]


def test_quality_gate_leaves_the_deployed_model_alone(tmp_path: Path, model_layer: Path) -> None:
    layer = tmp_path / "layer"
    shutil.copytree(model_layer, layer)
    before = tree_snapshot(layer)
    result = run_cli(
        "train", "--data", str(BUNDLED_DATA), "--output", str(layer), "--min-accuracy", "0.999", *FAST
    )
    assert result.returncode == 3, result.stderr
    last = result.stderr.strip().splitlines()[-1]
    assert result.stderr.count("\n") == 1 and last.startswith("error: quality gate failed: accuracy 0.")
    assert "< --min-accuracy 0.999" in last and "unchanged" in last
    assert tree_snapshot(layer) == before
    assert [p.name for p in layer.iterdir()] == [p.name for p in model_layer.iterdir()]


def test_quality_gate_into_an_empty_output_says_there_is_still_no_model(tmp_path: Path) -> None:
    """With no model in the output folder, "... is unchanged" suggested one was kept."""
    output = tmp_path / "fresh"
    result = run_cli(
        "train", "--data", str(BUNDLED_DATA), "--output", str(output), "--min-macro-f1", "0.999", *FAST
    )
    assert result.returncode == 3, result.stderr
    last = result.stderr.strip().splitlines()[-1]
    assert result.stderr.count("\n") == 1 and last.startswith("error: quality gate failed: macro-F1 0.")
    assert last.endswith(f"the model was not written and there is still no model in {output / 'model'}")
    assert "unchanged" not in last and not (output / "model").exists()


def test_quality_gate_from_a_config_file(tmp_path: Path) -> None:
    config = write(
        tmp_path / "pyproject.toml",
        '[project]\nname = "x"\n\n[tool.textclf.training]\nmin-macro-f1 = 0.999\ntime_budget = 0\n',
    )
    out = tmp_path / "layer"
    result = run_cli(
        "train", "--data", str(BUNDLED_DATA), "--output", str(out), "--config", str(config), "--quiet"
    )
    assert (
        result.returncode == 3
        and "macro-F1 0." in result.stderr
        and "< --min-macro-f1 0.999" in result.stderr
    )
    assert not out.exists() or not any(out.iterdir())
    # the command line wins over the file, and a model that clears the gate is written
    passing = run_cli(
        "train", "--data", str(BUNDLED_DATA), "--output", str(out), "--config", str(config),
        "--min-macro-f1", "0.5", "--min-accuracy", "0.5", "--quiet",
    )  # fmt: skip
    assert passing.returncode == 0, passing.stderr
    manifest = json.loads((out / "model" / "manifest.json").read_text())
    assert manifest["model"]["cv"]["skipped"].startswith("time budget 0")


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("[training]\nmin_accuracy = 'high'\n", "option 'min_accuracy' must be a valid number, got 'high'"),
        ("[training]\nlearning_rate = 0.1\n", "unknown option 'learning_rate' in [training]"),
        ("model = 'bert'\n", "option 'model' must be 'linear-svm', 'svc-linear' or 'logreg', got 'bert'"),
        ("min_accuracy = [\n", "not valid TOML"),
        ("min_accuracy = 1.5\n", "option 'min_accuracy' must be a number from 0 to 1, got 1.5"),
        ("cv_folds = 1\n", "option 'cv_folds' must be at least 2, got 1"),
    ],
)
def test_bad_config_is_a_one_line_error(tmp_path: Path, content: str, message: str) -> None:
    config = write(tmp_path / "training.toml", content)
    result = run_cli(
        "train", "--data", str(BUNDLED_DATA), "--output", str(tmp_path / "l"), "--config", str(config)
    )
    assert result.returncode == 2 and result.stderr.count("\n") == 1
    assert message in result.stderr and "Traceback" not in result.stderr
    assert not (tmp_path / "l").exists()


def test_evaluate_prints_the_training_metrics_without_retraining(
    tmp_path: Path, split_files: tuple[Path, Path]
) -> None:
    train_file, test_file = split_files
    manifest = train(TrainConfig(data=train_file, output=tmp_path, test_file=test_file, time_budget=0))
    assert manifest["data"]["n_test"] == 115 and manifest["data"]["test_file"] == "test.csv"
    model = tmp_path / "model"
    result = run_cli("evaluate", "--model-dir", str(model), "--data", str(test_file), "--json")
    assert result.returncode == 0, result.stderr
    metrics = json.loads(result.stdout)
    assert metrics.pop("model_version") == manifest["version"]
    assert metrics.pop("data")["rows_used"] == 115
    assert metrics == manifest["metrics"]
    text = run_cli("evaluate", "--model-dir", str(model), "--data", str(test_file))
    assert text.returncode == 0
    assert (
        f"accuracy {manifest['metrics']['accuracy']:.4f}  macro-F1 {manifest['metrics']['macro_f1']:.4f}"
        in text.stdout
    )
    assert "  billing " in text.stdout


def test_evaluate_refuses_unverified_or_mismatched_models(tmp_path: Path, model_dir: Path) -> None:
    model = tmp_path / "model"
    shutil.copytree(model_dir, model)
    with (model / "model.joblib").open("ab") as fh:
        fh.write(b"not ours")
    result = run_cli("evaluate", "--model-dir", str(model), "--data", str(BUNDLED_DATA))
    assert result.returncode == 2 and result.stderr.count("\n") == 1
    assert "does not match its manifest hash" in result.stderr

    shutil.rmtree(model)
    shutil.copytree(model_dir, model)
    manifest = json.loads((model / "manifest.json").read_text())
    manifest["libraries"]["scikit-learn"] = "1.0.2"
    (model / "manifest.json").write_text(json.dumps(manifest))
    import os
    import subprocess
    import sys

    refused = subprocess.run(
        [
            sys.executable,
            "-m",
            "training",
            "evaluate",
            "--model-dir",
            str(model),
            "--data",
            str(BUNDLED_DATA),
            "--sklearn-version-policy",
            "refuse",
        ],
        capture_output=True,
        text=True,
        timeout=300,
        env=os.environ,
    )
    assert refused.returncode == 2 and "trained with scikit-learn 1.0.2" in refused.stderr
    assert "scikit-learn version policy: refuse" in refused.stderr and refused.stderr.count("\n") == 1

    other = write(tmp_path / "other.csv", "text,label\nwhere is my refund,refunds\nhello,greeting\n")
    unknown = run_cli("evaluate", "--model-dir", str(model_dir), "--data", str(other))
    assert unknown.returncode == 2 and "'greeting', 'refunds' are not classes of model" in unknown.stderr


def _rows(spec: dict[str, int]) -> str:
    return "text,label\n" + "".join(
        f"{label} message number {i},{label}\n" for label, n in spec.items() for i in range(n)
    )


@pytest.mark.parametrize(
    ("name", "content", "extra", "message"),
    [
        ("empty.csv", "", (), "the file is empty"),
        ("cols.csv", "body,topic\nhi,a\n", (), "missing column(s) 'text', 'label'"),
        ("one.csv", _rows({"billing": 20}), (), "only one class ('billing')"),
        (
            "latin1.csv",
            "text,label\ncaf\xe9 au lait,a\n".encode("latin-1"),
            (),
            "not UTF-8 text (undecodable bytes",
        ),
        (
            "few.csv",
            _rows({"billing": 30, "shipping": 30, "returns": 5}),
            (),
            "class(es) 'returns' (5 rows) have fewer than 5 training examples",
        ),
        (
            "few-folds.csv",
            _rows({"billing": 30, "shipping": 12}),
            ("--cv-folds", "12"),
            "'shipping' (12 rows)",
        ),
        (
            "ok.csv",
            _rows({"billing": 30, "shipping": 30}),
            ("--test-file", "TEST"),
            "do not occur in the training",
        ),
    ],
)
def test_bad_data_is_one_line_and_writes_nothing(
    tmp_path: Path, name: str, content: str | bytes, extra: tuple[str, ...], message: str
) -> None:
    data = write(tmp_path / name, content)
    test_file = write(tmp_path / "test.csv", _rows({"billing": 3, "refunds": 3}))
    args = [a.replace("TEST", str(test_file)) for a in extra]
    out = tmp_path / "layer"
    result = run_cli("train", "--data", str(data), "--output", str(out), *args, *FAST)
    assert result.returncode == 2, result.stderr
    assert result.stderr.count("\n") == 1 and result.stderr.startswith("error: ")
    assert message in result.stderr and "Traceback" not in result.stderr
    named = test_file.name if "--test-file" in extra else name
    assert named in result.stderr
    assert not out.exists() or not any(out.iterdir())


def test_time_budget_cuts_the_search_after_the_first_stage() -> None:
    from training.data import load_dataset
    from training.pipeline import ModelOptions
    from training.tuning import search

    data = load_dataset(BUNDLED_DATA)
    messages: list[str] = []
    result = search(
        ModelOptions(), data.texts, data.labels, folds=3, time_budget=1e-6, progress=messages.append
    )
    cv = result.cv
    assert (cv["stages_run"], cv["stages_planned"], cv["complete"]) == (1, 3, False)
    assert [c["params"]["C"] for c in cv["candidates"]] == [0.3, 1.0, 3.0]
    assert any("time budget 1e-06s reached after 1 of 3 stages" in m for m in messages)
    assert result.best.C == cv["best"]["params"]["C"]
    skipped = search(ModelOptions(), data.texts, data.labels, folds=3, time_budget=0)
    assert skipped.best == ModelOptions() and "skipped" in skipped.cv
