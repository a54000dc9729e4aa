"""Training: data cleaning, the CLI contract, the manifest, reproducibility."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.helpers import BUNDLED_DATA, ROOT
from tests.training_cli import run_cli, write
from training.data import load_dataset
from training.errors import DataError
from training.train import TrainConfig, train


def test_bundled_dataset_is_big_and_varied() -> None:
    data = load_dataset(BUNDLED_DATA)
    counts = data.class_counts
    assert len(data.texts) >= 400 and len(counts) >= 4
    assert min(counts.values()) >= 80
    assert data.report.duplicates_dropped == 0 and data.report.conflicting_texts == 0


def test_cleaning_strips_dedupes_and_drops_conflicts(tmp_path: Path) -> None:
    csv = write(
        tmp_path / "d.csv",
        "\ufefftext,label\n"
        "  hello there ,greet\n"
        "hello there,greet\n"  # duplicate after strip
        "   ,greet\n"  # empty text
        "bye,\n"  # empty label
        "ambiguous,greet\n"
        "ambiguous,leave\n"  # conflicting labels
        '"multi\nline",leave\n',
    )
    data = load_dataset(csv)
    assert data.texts == ["hello there", "multi\nline"]
    assert data.labels == ["greet", "leave"]
    report = data.report
    assert (report.rows_read, report.empty_dropped, report.duplicates_dropped) == (7, 2, 1)
    assert (report.conflicting_texts, report.conflicting_rows_dropped) == (1, 2)


def test_jsonl_with_custom_columns(tmp_path: Path) -> None:
    lines = [json.dumps({"body": f"message {i}", "topic": "a" if i % 2 else "b"}) for i in range(6)]
    data = load_dataset(write(tmp_path / "d.jsonl", "\n".join(lines) + "\n"), "body", "topic")
    assert len(data.texts) == 6 and set(data.labels) == {"a", "b"}


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("empty.csv", "", "the file is empty"),
        ("header-only.csv", "text,label\n", "no usable rows"),
        ("cols.csv", "body,topic\nhi,a\n", "missing column(s) 'text', 'label'"),
        (
            "latin1.csv",
            "text,label\ncaf\xe9,a\n".encode("latin-1"),
            "not UTF-8 text (undecodable bytes on line 2)",
        ),
        ("bad.jsonl", '{"text": "a", "label": "x"}\n{oops\n', "line 2 is not valid JSON"),
        ("list.jsonl", "[1, 2]\n", "line 1 is not a JSON object"),
        ("data.parquet", "x", "unknown file type '.parquet'"),
    ],
)
def test_unusable_files_get_one_line_errors(tmp_path: Path, name: str, content, message: str) -> None:
    with pytest.raises(DataError, match=None) as info:
        load_dataset(write(tmp_path / name, content))
    assert message in str(info.value) and name in str(info.value)


@pytest.mark.parametrize("json_flag", [[], ["--json"]])
def test_evaluate_into_a_closed_pipe_has_no_traceback(model_dir: Path, json_flag: list[str]) -> None:
    """``evaluate --json | head -1``: the reader goes away first; that gave a BrokenPipeError traceback."""
    read_end, write_end = os.pipe()
    os.close(read_end)  # every write to stdout now fails with EPIPE, as after `head` has exited
    try:
        result = subprocess.run(
            [sys.executable, "-m", "training", "evaluate", "--model-dir", str(model_dir)]
            + ["--data", str(BUNDLED_DATA), *json_flag],
            cwd=ROOT,
            stdout=write_end,
            stderr=subprocess.PIPE,
            text=True,
            timeout=300,
        )
    finally:
        os.close(write_end)
    assert result.returncode == 1, result.stderr
    # no traceback: only the warning that the bundled data holds the model's training rows
    assert result.stderr.startswith("warning: ") and result.stderr.count("\n") == 1, result.stderr


def test_cli_train_contract(tmp_path: Path) -> None:
    result = run_cli("train", "--data", str(BUNDLED_DATA), "--output", str(tmp_path / "layer"))
    assert result.returncode == 0, result.stderr
    manifest = json.loads((tmp_path / "layer" / "model" / "manifest.json").read_text())
    assert len(manifest["version"]) == 16
    assert manifest["classes"] == ["account", "billing", "returns", "shipping", "technical"]
    assert manifest["created_at"].endswith("+00:00")
    assert {"python", "scikit-learn", "numpy", "joblib"} <= set(manifest["libraries"])
    assert 0.75 <= manifest["metrics"]["accuracy"] <= 1 and 0.75 <= manifest["metrics"]["macro_f1"] <= 1
    assert {"precision", "recall", "f1", "support"} <= set(manifest["metrics"]["per_class"]["billing"])
    for name, entry in manifest["files"].items():
        assert len(entry["sha256"]) == 64 and (tmp_path / "layer" / "model" / name).is_file()
    assert "accuracy" in result.stdout


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("text,label\na,x\nb,x\nc,x\n", "only one class ('x')"),
        ("text,label\na,x\nb,x\nc,y\n", "have fewer than 2 examples"),
        ("txt,label\na,x\n", "missing column(s) 'text'"),
    ],
)
def test_cli_errors_are_one_line_and_nonzero(tmp_path: Path, content: str, message: str) -> None:
    data = write(tmp_path / "d.csv", content)
    result = run_cli("train", "--data", str(data), "--output", str(tmp_path / "layer"))
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1 and result.stderr.startswith("error: ")
    assert message in result.stderr and "Traceback" not in result.stderr
    assert not (tmp_path / "layer" / "model").exists()


def test_missing_file_is_an_error(tmp_path: Path) -> None:
    result = run_cli("train", "--data", str(tmp_path / "nope.csv"))
    assert result.returncode == 2 and "no such file" in result.stderr


def test_same_data_same_version(tmp_path: Path, model_dir: Path) -> None:
    """Same data, options and libraries give a byte-identical model, so the same version."""
    again = train(TrainConfig(data=BUNDLED_DATA, output=tmp_path, time_budget=600))
    first = json.loads((model_dir / "manifest.json").read_text())
    assert again["version"] == first["version"]
    assert again["files"] == first["files"]


def test_retraining_replaces_the_model_atomically(tmp_path: Path) -> None:
    train(TrainConfig(data=BUNDLED_DATA, output=tmp_path, time_budget=0))
    manifest = train(TrainConfig(data=BUNDLED_DATA, output=tmp_path, time_budget=0))
    leftovers = [p.name for p in tmp_path.iterdir() if p.name != "model"]
    assert leftovers == []
    assert json.loads((tmp_path / "model" / "manifest.json").read_text())["version"] == manifest["version"]
