"""The default regression gate: a new model is scored against the model it would replace
and against the majority-class baseline on the same held-out rows; a worse one is refused
(exit 3, one line, the layer byte-for-byte unchanged) unless ``--allow-regression``.

Also: ``evaluate`` defaults to the column names the model was trained with."""

from __future__ import annotations

import csv
import json
import random
import shutil
from pathlib import Path

import pytest

from tests.helpers import BUNDLED_DATA
from tests.training_cli import NO_SEARCH as FAST
from tests.training_cli import run_cli, tree_snapshot, write
from training.errors import QualityGateError
from training.evaluation import trained_columns
from training.gate import GateOptions, check_regression, majority_baseline, scores
from training.report import MODEL_CARD
from training.train import TrainConfig, train


def bundled_rows() -> list[dict[str, str]]:
    with BUNDLED_DATA.open(encoding="utf-8", newline="") as fh:
        return list(csv.DictReader(fh))


def write_rows(path: Path, rows: list[dict[str, str]], text: str = "text", label: str = "label") -> Path:
    with path.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=[text, label])
        writer.writeheader()
        writer.writerows({text: r["text"], label: r["label"]} for r in rows)
    return path


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """train.csv / test.csv (every fifth row of each class held out), and small.csv: only
    ``per_class`` training rows of each class, which makes a clearly worse model."""
    folder = tmp_path_factory.mktemp("gate-data")
    seen: dict[str, int] = {}
    parts: dict[str, list[dict[str, str]]] = {"train": [], "test": [], "small": []}
    for row in bundled_rows():
        seen[row["label"]] = seen.get(row["label"], 0) + 1
        n = seen[row["label"]]
        parts["test" if n % 5 == 0 else "train"].append(row)
        if n % 5 and n <= 7:
            parts["small"].append(row)
    return {name: write_rows(folder / f"{name}.csv", rows) for name, rows in parts.items()}


@pytest.fixture(scope="module")
def good_layer(tmp_path_factory: pytest.TempPathFactory, files: dict[str, Path]) -> Path:
    layer = tmp_path_factory.mktemp("good-layer")
    train(TrainConfig(data=files["train"], output=layer, test_file=files["test"], time_budget=0))
    return layer


def copy_layer(source: Path, target: Path) -> Path:
    shutil.copytree(source, target)
    return target


def test_a_worse_model_is_refused_and_the_layer_is_untouched(
    tmp_path: Path, files: dict[str, Path], good_layer: Path
) -> None:
    layer = copy_layer(good_layer, tmp_path / "layer")
    before = tree_snapshot(layer)
    good = json.loads((layer / "model" / "manifest.json").read_text())
    result = run_cli(
        "train",
        "--data",
        str(files["small"]),
        "--test-file",
        str(files["test"]),
        "--output",
        str(layer),
        *FAST,
    )
    assert result.returncode == 3, result.stderr
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr
    line = result.stderr.strip()
    assert line.startswith("error: regression gate failed on 115 held-out rows: macro-F1 0.")
    assert f"of the current model {good['version']} on 115 rows new to it (tolerance 0.01)" in line
    assert "the model was not written" in line and "--allow-regression" in line
    assert tree_snapshot(layer) == before
    assert sorted(p.name for p in layer.iterdir()) == sorted(p.name for p in good_layer.iterdir())


def test_allow_regression_writes_it_and_the_card_says_so(
    tmp_path: Path, files: dict[str, Path], good_layer: Path
) -> None:
    layer = copy_layer(good_layer, tmp_path / "layer")
    good = json.loads((layer / "model" / "manifest.json").read_text())
    result = run_cli(
        "train", "--data", str(files["small"]), "--test-file", str(files["test"]), "--output", str(layer),
        "--allow-regression", *FAST,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    manifest = json.loads((layer / "model" / "manifest.json").read_text())
    gate = manifest["gate"]
    assert manifest["version"] != good["version"]
    assert gate["current"]["status"] == "compared" and gate["current"]["version"] == good["version"]
    assert gate["rows"] == 115 and gate["metric"] == "macro_f1" and gate["tolerance"] == 0.01
    assert gate["new"]["macro_f1"] < gate["current"]["macro_f1"] - 0.01
    assert gate["decision"] == "overridden (--allow-regression)" and len(gate["refusals"]) == 1
    # the gate scores the old model on the same rows as the training run's own metrics
    assert gate["current"]["accuracy"] == good["metrics"]["accuracy"]
    assert gate["new"]["accuracy"] == manifest["metrics"]["accuracy"]
    card = (layer / "model" / MODEL_CARD).read_text()
    assert "## Regression gate (115 held-out rows)" in card
    assert f"| replaced model `{good['version']}` | 115 | {good['metrics']['accuracy']:.4f} |" in card
    assert "0 of the held-out rows were among its training rows" in card
    assert "Decision: overridden (--allow-regression)." in card and "Refusals overridden:" in card
    assert "OVERRIDDEN (--allow-regression)" in result.stdout


def test_an_equal_or_better_model_passes_and_records_the_comparison(
    tmp_path: Path, files: dict[str, Path], good_layer: Path
) -> None:
    layer = copy_layer(good_layer, tmp_path / "layer")
    good = json.loads((layer / "model" / "manifest.json").read_text())
    manifest = train(
        TrainConfig(
            data=files["train"], output=layer, test_file=files["test"], time_budget=0, sublinear_tf=False
        )
    )
    gate = manifest["gate"]
    assert gate["decision"] == "passed" and gate["refusals"] == []
    assert gate["current"]["version"] == good["version"]
    assert gate["new"]["macro_f1"] >= gate["current"]["macro_f1"] - 0.01
    assert gate["new"]["macro_f1"] > gate["baseline"]["macro_f1"]
    card = (layer / "model" / MODEL_CARD).read_text()
    assert f"replaced model `{good['version']}`" in card and "Decision: passed." in card


def test_rows_the_current_model_was_trained_on_are_left_out(tmp_path: Path, files: dict[str, Path]) -> None:
    """More data, retrained: the new held-out rows include rows the current model was trained
    on; those would flatter it, so both are compared on the rest only."""
    layer = tmp_path / "layer"
    first = train(TrainConfig(data=files["train"], output=layer, time_budget=0))
    assert first["data"]["training_rows"]["rows"] == first["data"]["n_train"]
    assert "training_rows.u64" in first["reports"]
    manifest = train(TrainConfig(data=BUNDLED_DATA, output=layer, time_budget=0))
    current = manifest["gate"]["current"]
    assert current["status"] == "compared" and current["version"] == first["version"]
    assert current["rows_seen"] > 0 and current["rows"] == manifest["data"]["n_test"] - current["rows_seen"]
    assert manifest["gate"]["decision"] == "passed"
    card = (layer / "model" / MODEL_CARD).read_text()
    assert (
        f"{current['rows_seen']} of the held-out rows were among its training rows and were left out" in card
    )


def test_the_tolerance_is_an_option(tmp_path: Path, files: dict[str, Path], good_layer: Path) -> None:
    layer = copy_layer(good_layer, tmp_path / "layer")
    result = run_cli(
        "train", "--data", str(files["small"]), "--test-file", str(files["test"]), "--output", str(layer),
        "--regression-tolerance", "1", *FAST,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert json.loads((layer / "model" / "manifest.json").read_text())["gate"]["tolerance"] == 1.0
    bad = run_cli("train", "--data", str(files["small"]), "--regression-tolerance", "-0.1", *FAST)
    assert (
        bad.returncode == 2 and "--regression-tolerance must be a number from 0 to 1, got -0.1" in bad.stderr
    )


def uninformative(n_major: int, n_minor: int, seed: int) -> str:
    """Texts that say nothing about their (imbalanced) labels."""
    rng = random.Random(seed)
    words = ["alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf", "hotel", "india", "juliet"]
    labels = ["common"] * n_major + ["rare"] * n_minor + ["scarce"] * n_minor
    rng.shuffle(labels)
    rows = [f"{' '.join(rng.choices(words, k=6))} {i},{label}" for i, label in enumerate(labels)]
    return "text,label\n" + "\n".join(rows) + "\n"


@pytest.mark.parametrize(("seed", "scoring"), [(0, "macro_f1"), (1, "accuracy"), (2, "macro_f1")])
def test_a_model_that_does_not_beat_the_majority_baseline_is_refused(
    tmp_path: Path, seed: int, scoring: str
) -> None:
    # 200 / 10 / 10 rows whose texts say nothing: the model answers the majority class
    data = write(tmp_path / "noise.csv", uninformative(200, 10, seed))
    out = tmp_path / "layer"
    result = run_cli("train", "--data", str(data), "--output", str(out), "--scoring", scoring, *FAST)
    assert result.returncode == 3, result.stdout
    assert result.stderr.count("\n") == 1 and result.stderr.startswith("error: regression gate failed")
    assert (
        "does not beat the majority-class baseline" in result.stderr and "(always 'common')" in result.stderr
    )
    # there was no model: "unchanged" would suggest there was one
    assert f"there is still no model in {out / 'model'}" in result.stderr and "unchanged" not in result.stderr
    assert not out.exists() or not any(out.iterdir())
    allowed = run_cli(
        "train", "--data", str(data), "--output", str(out), "--scoring", scoring, "--allow-regression", *FAST
    )
    assert allowed.returncode == 0, allowed.stderr
    gate = json.loads((out / "model" / "manifest.json").read_text())["gate"]
    assert gate["current"] == {"status": "none"} and gate["decision"].startswith("overridden")
    assert gate["metric"] == scoring and gate["new"][scoring] <= gate["baseline"][scoring]


def test_a_model_for_other_labels_is_not_compared_and_refused(
    tmp_path: Path, files: dict[str, Path], good_layer: Path
) -> None:
    layer = copy_layer(good_layer, tmp_path / "layer")
    before = tree_snapshot(layer)
    renamed = [{**r, "label": r["label"].replace("billing", "payments")} for r in bundled_rows()]
    data = write_rows(tmp_path / "renamed.csv", renamed)
    result = run_cli("train", "--data", str(data), "--output", str(layer), *FAST)
    assert result.returncode == 3 and result.stderr.count("\n") == 1, result.stderr
    assert "the current model cannot be compared: the held-out rows have label(s) 'payments'" in result.stderr
    assert tree_snapshot(layer) == before
    allowed = run_cli("train", "--data", str(data), "--output", str(layer), "--allow-regression", *FAST)
    assert allowed.returncode == 0, allowed.stderr
    current = json.loads((layer / "model" / "manifest.json").read_text())["gate"]["current"]
    assert current["status"] == "not-comparable" and "'payments'" in current["reason"]


def test_own_data_over_the_bundled_sample_model_is_written_and_recorded(tmp_path: Path) -> None:
    # the first-hour path: `make run` trained the sample into the layer, then the user trains their own labels
    layer = tmp_path / "layer"
    train(TrainConfig(data=BUNDLED_DATA, output=layer, time_budget=0))
    sample = json.loads((layer / "model" / "manifest.json").read_text())
    renamed = [{**r, "label": r["label"].replace("billing", "payments")} for r in bundled_rows()]
    data = write_rows(tmp_path / "mine.csv", renamed)
    result = run_cli("train", "--data", str(data), "--output", str(layer), *FAST)
    assert result.returncode == 0, result.stderr
    assert "replaces the bundled sample model" in result.stdout + result.stderr
    gate = json.loads((layer / "model" / "manifest.json").read_text())["gate"]
    assert gate["current"]["status"] == "sample" and gate["current"]["version"] == sample["version"]
    assert gate["refusals"] == [] and gate["decision"] == "passed"
    assert "It replaced the bundled sample model" in (layer / "model" / MODEL_CARD).read_text()
    # a model of the user's own labels is no sample: the next different-label file is refused again
    again = run_cli("train", "--data", str(BUNDLED_DATA), "--output", str(layer), *FAST)
    assert again.returncode == 3 and "the current model cannot be compared" in again.stderr, again.stderr


@pytest.mark.parametrize("damage", ["tampered", "rows", "manifest", "missing", "format", "type"])
def test_an_unverifiable_current_model_is_never_unpickled_and_blocks(
    tmp_path: Path, files: dict[str, Path], good_layer: Path, damage: str
) -> None:
    layer = copy_layer(good_layer, tmp_path / "layer")
    model = layer / "model"
    if damage == "tampered":  # a pickle that would run code if it were ever loaded
        (model / "model.joblib").write_bytes(
            b"cos\nsystem\n(S'touch " + str(tmp_path / "pwned").encode() + b"'\ntR."
        )
        expected = "does not match its manifest hash"
    elif damage == "rows":  # the training-row fingerprint the gate reads
        with (model / "training_rows.u64").open("ab") as fh:
            fh.write(b"\0" * 8)
        expected = "training_rows.u64 is missing or does not match its manifest hash"
    elif damage == "manifest":
        (model / "manifest.json").write_text("{not json")
        expected = "cannot read"
    elif damage in ("format", "type"):  # written by another format version; a hand edit
        manifest = json.loads((model / "manifest.json").read_text())
        if damage == "format":
            manifest["format_version"] = 2
            expected = "is manifest format 2; this textclf reads format 1"
        else:
            manifest["files"]["model.joblib"]["bytes"] = "12"
            expected = "invalid files.model.joblib.bytes: Input should be a valid integer"
        (model / "manifest.json").write_text(json.dumps(manifest))
    else:  # files, but no manifest: no model to compare with, and no advice about MODEL_DIR
        (model / "manifest.json").unlink()
        expected = f"there is no current model to compare with, but {model} holds files but no manifest.json"
    before = tree_snapshot(layer)
    result = run_cli("train", "--data", str(files["train"]), "--output", str(layer), *FAST)
    assert result.returncode == 3 and result.stderr.count("\n") == 1, result.stderr
    if damage != "missing":
        assert f"the current model in {model} cannot be loaded to compare" in result.stderr
        assert f"{model} is unchanged" in result.stderr
    else:
        assert f"there is still no model in {model}" in result.stderr
    assert expected in result.stderr and "MODEL_DIR" not in result.stderr
    assert tree_snapshot(layer) == before and not (tmp_path / "pwned").exists()
    allowed = run_cli(
        "train", "--data", str(files["train"]), "--output", str(layer), "--allow-regression", *FAST
    )
    assert allowed.returncode == 0, allowed.stderr
    assert json.loads((model / "manifest.json").read_text())["gate"]["current"]["status"] == "unreadable"
    assert not (tmp_path / "pwned").exists()
    card = (model / MODEL_CARD).read_text(encoding="utf-8")
    if damage == "missing":  # the summary and the card do not call those files a model either
        assert "no current model (files without a manifest); OVERRIDDEN" in allowed.stdout
        assert f"There was no model in the output folder to compare with: {model} holds files" in card
    else:
        assert "current model unreadable; OVERRIDDEN" in allowed.stdout
        assert "The model in the output folder was not compared (unreadable)" in card


# the gate's arithmetic, without training: generated label/prediction sets


@pytest.mark.parametrize("seed", range(8))
def test_baseline_and_refusal_rules_on_generated_predictions(tmp_path: Path, seed: int) -> None:
    rng = random.Random(seed)
    classes = [f"c{i}" for i in range(rng.randint(2, 6))]
    weights = [rng.random() + 0.1 for _ in classes]
    labels = rng.choices(classes, weights=weights, k=rng.randint(10, 80))
    train_labels = rng.choices(classes, weights=weights, k=200)
    baseline = majority_baseline(train_labels, labels)
    majority = baseline["label"]
    assert baseline == {"label": majority, **scores(labels, [majority] * len(labels))}
    # answering the majority class never beats the baseline: always refused
    with pytest.raises(QualityGateError, match="does not beat the majority-class baseline"):
        check_regression(
            tmp_path, train_labels, ["t"] * len(labels), labels, [majority] * len(labels), GateOptions()
        )
    # a perfect model always passes when there is no current model
    record = check_regression(tmp_path, train_labels, ["t"] * len(labels), labels, labels, GateOptions())
    assert record["new"] == {"accuracy": 1.0, "macro_f1": 1.0} and record["current"] == {"status": "none"}
    assert not (tmp_path / "model").exists()


def test_evaluate_defaults_to_the_columns_the_model_was_trained_with(
    tmp_path: Path, files: dict[str, Path]
) -> None:
    rows = bundled_rows()
    train_file = write_rows(
        tmp_path / "tickets.csv", [r for i, r in enumerate(rows) if i % 5], "body", "queue"
    )
    test_file = write_rows(tmp_path / "new_tickets.csv", rows[::5], "body", "queue")
    layer = tmp_path / "layer"
    trained = run_cli(
        "train", "--data", str(train_file), "--test-file", str(test_file), "--output", str(layer),
        "--text-column", "body", "--label-column", "queue", *FAST,
    )  # fmt: skip
    assert trained.returncode == 0, trained.stderr
    manifest = json.loads((layer / "model" / "manifest.json").read_text())
    assert trained_columns(manifest) == ("body", "queue")
    # exactly as the README shows it: no column options
    result = run_cli("evaluate", "--model-dir", str(layer / "model"), "--data", str(test_file), "--json")
    assert result.returncode == 0, result.stderr
    metrics = json.loads(result.stdout)
    assert metrics["accuracy"] == manifest["metrics"]["accuracy"] and metrics["data"]["rows_used"] == 118
    # explicit names still win: a file with the default names is evaluated when asked to
    plain = write_rows(tmp_path / "plain.csv", rows[::5])
    missing = run_cli("evaluate", "--model-dir", str(layer / "model"), "--data", str(plain))
    assert missing.returncode == 2 and "missing column(s) 'body', 'queue'" in missing.stderr
    explicit = run_cli(
        "evaluate", "--model-dir", str(layer / "model"), "--data", str(plain),
        "--text-column", "text", "--label-column", "label", "--json",
    )  # fmt: skip
    assert explicit.returncode == 0 and json.loads(explicit.stdout)["accuracy"] == metrics["accuracy"]


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        ({}, ("text", "label")),
        ({"text_column": "body"}, ("body", "label")),
        ({"text_column": "", "label_column": 3}, ("text", "label")),
        ({"text_column": "msg", "label_column": "intent"}, ("msg", "intent")),
    ],
)
def test_trained_columns_falls_back_to_the_defaults(
    data: dict[str, object], expected: tuple[str, str]
) -> None:
    assert trained_columns({"data": data}) == expected
    assert trained_columns({}) == ("text", "label")
