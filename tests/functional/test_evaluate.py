"""``python -m training evaluate`` on a model folder: it verifies every file the manifest lists
before it reports anything (a folder serving would refuse is refused here too, naming the file),
and warns on stderr when the evaluation rows include the model's own training rows."""

from __future__ import annotations

import csv
import json
import random
import shutil
from pathlib import Path

import numpy as np
import pytest

from tests.helpers import BUNDLED_DATA
from tests.training_cli import run, run_cli
from textclf.errors import IntegrityError
from textclf.manifest import read_manifest
from textclf.model import load_predictor
from training.gate import ROWS_FILE, row_hashes


@pytest.fixture
def model_copy(model_dir: Path, tmp_path: Path) -> Path:
    return Path(shutil.copytree(model_dir, tmp_path / "model"))


def listed_files(model_dir: Path) -> list[str]:
    manifest = json.loads((model_dir / "manifest.json").read_text(encoding="utf-8"))
    return sorted([*manifest["files"], *manifest.get("reports", {})])


def bundled_rows() -> list[dict[str, str]]:
    with BUNDLED_DATA.open(encoding="utf-8", newline="") as fh:
        return list(csv.DictReader(fh))


def write_rows(path: Path, rows: list[tuple[str, str]]) -> Path:
    with path.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["text", "label"])
        writer.writerows(rows)
    return path


def training_rows(model_dir: Path) -> tuple[list[dict[str, str]], list[dict[str, str]]]:
    """The bundled rows split by whether the model's ``training_rows.u64`` lists them."""
    known = np.frombuffer((model_dir / ROWS_FILE).read_bytes(), dtype=">u8").astype(np.uint64)
    rows = bundled_rows()
    seen = np.isin(row_hashes([r["text"] for r in rows]), known)
    return [r for r, s in zip(rows, seen, strict=True) if s], [
        r for r, s in zip(rows, seen, strict=True) if not s
    ]


def test_the_model_folder_lists_lean_files_and_reports(model_dir: Path) -> None:
    """What the tests below tamper with: the lean artefact and the reports are all listed."""
    names = listed_files(model_dir)
    assert "model.joblib" in names and "lean-coef.npy" in names and ROWS_FILE in names
    assert "MODEL_CARD.md" in names and len(names) >= 8


@pytest.mark.parametrize("damage", ["append", "flip", "truncate", "delete"])
def test_every_listed_file_is_verified_before_anything_is_reported(
    model_copy: Path, capsys: pytest.CaptureFixture[str], damage: str
) -> None:
    """The example was lean-coef.npy with a byte appended (exit 0, good metrics, while the API refused
    to start): every file the manifest lists, damaged in any way, stops evaluate with one line."""
    pristine = {name: (model_copy / name).read_bytes() for name in listed_files(model_copy)}
    for name, content in pristine.items():
        path = model_copy / name
        if damage == "append":
            path.write_bytes(content + b"\0")
        elif damage == "flip":
            at = len(content) // 2
            path.write_bytes(content[:at] + bytes([content[at] ^ 0x01]) + content[at + 1 :])
        elif damage == "truncate":
            path.write_bytes(content[: len(content) // 2])
        else:
            path.unlink()
        code, out, err = run(capsys, "evaluate", "--model-dir", str(model_copy), "--data", str(BUNDLED_DATA))
        assert code == 2 and out == "", (name, out)
        assert err.startswith("error: ") and err.count("\n") == 1, (name, err)
        assert str(path) in err, (name, err)
        expected = "is missing" if damage == "delete" else "does not match its manifest hash"
        assert expected in err and "warning" not in err, (name, err)
        path.write_bytes(content)
    code, out, _ = run(capsys, "evaluate", "--model-dir", str(model_copy), "--data", str(BUNDLED_DATA))
    assert code == 0 and out.startswith("model ")


def test_a_tampered_lean_file_fails_evaluate_as_it_fails_serving(model_copy: Path) -> None:
    """The reported case, through the real command: the same file named, as the API names it."""
    with (model_copy / "lean-coef.npy").open("ab") as fh:
        fh.write(b"x")
    with pytest.raises(IntegrityError) as served:
        load_predictor(model_copy)
    result = run_cli("evaluate", "--model-dir", str(model_copy), "--data", str(BUNDLED_DATA))
    assert result.returncode == 2 and result.stdout == ""
    assert result.stderr == f"error: {served.value}\n"
    assert "Traceback" not in result.stderr and "lean-coef.npy" in result.stderr


def test_evaluating_on_the_training_rows_warns_with_the_count(
    model_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    seen, unseen = training_rows(model_dir)
    assert len(seen) == read_manifest(model_dir).to_json()["data"]["n_train"] and unseen
    version = read_manifest(model_dir).version
    # the whole bundled file: the model's training rows and its held-out ones
    code, out, err = run(capsys, "evaluate", "--model-dir", str(model_dir), "--data", str(BUNDLED_DATA))
    assert code == 0 and out.startswith(f"model {version}")
    assert err == (
        f"warning: {len(seen)} of the {len(seen) + len(unseen)} evaluation rows are among the training rows "
        f"of model {version} (its {ROWS_FILE}): these metrics are optimistic; evaluate on rows it was not "
        "trained on for a fair estimate\n"
    )
    # generated mixes: k training rows (some re-cased and re-spaced: the same features) among unseen ones
    rng = random.Random(7)
    for k in (1, 3, 17):
        picked = rng.sample(seen, k)
        mixed = [(r["text"], r["label"]) for r in rng.sample(unseen, 20)]
        mixed += [
            (f"  {r['text'].upper()} " if i % 2 else r["text"], r["label"]) for i, r in enumerate(picked)
        ]
        rng.shuffle(mixed)
        data = write_rows(tmp_path / f"mix{k}.csv", mixed)
        code, out, err = run(capsys, "evaluate", "--model-dir", str(model_dir), "--data", str(data), "--json")
        assert code == 0 and err.count("\n") == 1
        assert err.startswith(f"warning: {k} of the {20 + k} evaluation rows are among the training rows")
        metrics = json.loads(out)  # stdout stays one JSON document
        assert metrics["data"]["rows_in_training"] == k and metrics["data"]["rows_used"] == 20 + k


def test_rows_the_model_never_saw_give_no_warning(
    model_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _, unseen = training_rows(model_dir)
    data = write_rows(tmp_path / "held_out.csv", [(r["text"], r["label"]) for r in unseen])
    code, out, err = run(capsys, "evaluate", "--model-dir", str(model_dir), "--data", str(data), "--json")
    assert code == 0 and err == ""
    assert json.loads(out)["data"]["rows_in_training"] == 0


def test_a_model_without_training_rows_is_evaluated_without_a_count(
    model_copy: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Models from before ``training_rows.u64`` existed: nothing to compare with, so no warning."""
    path = model_copy / "manifest.json"
    manifest = json.loads(path.read_text(encoding="utf-8"))
    del manifest["data"]["training_rows"], manifest["reports"][ROWS_FILE]
    path.write_text(json.dumps(manifest), encoding="utf-8")
    (model_copy / ROWS_FILE).unlink()
    code, out, err = run(
        capsys, "evaluate", "--model-dir", str(model_copy), "--data", str(BUNDLED_DATA), "--json"
    )
    assert code == 0 and err == ""
    assert json.loads(out)["data"]["rows_in_training"] is None
