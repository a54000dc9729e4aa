"""Loading a model folder: integrity checks, version policy, clear errors."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from textclf.errors import IntegrityError, ManifestError, ModelLoadError
from textclf.model import get_predictor, load_predictor


@pytest.fixture
def model_copy(model_dir: Path, tmp_path: Path) -> Path:
    target = tmp_path / "model"
    shutil.copytree(model_dir, target)
    return target


def edit_manifest(model: Path, **changes) -> None:
    path = model / "manifest.json"
    manifest = json.loads(path.read_text())
    manifest.update(changes)
    path.write_text(json.dumps(manifest))


def test_loads_and_predicts(model_dir: Path) -> None:
    predictor = load_predictor(model_dir)
    assert predictor.classes == ("account", "billing", "returns", "shipping", "technical")
    (pred,) = predictor.predict(["please cancel my subscription and refund me"])
    assert pred["label"] in predictor.classes
    assert predictor.predict([]) == []


@pytest.mark.parametrize(
    ("layout", "what"),
    [
        ("absent", "no such folder"),
        ("empty", "manifest.json is missing"),
        ("file", "it is a file, not a folder"),
    ],
)
def test_serving_without_a_model_says_what_to_do(tmp_path: Path, clean_env, layout: str, what: str) -> None:
    """Serving reads MODEL_DIR, so its message says to set it (or train); the library call that
    takes a folder states the fact only (training's commands give their own advice)."""
    from textclf.settings import get_settings

    folder = tmp_path / "nothing-here"
    if layout == "empty":
        folder.mkdir()
    elif layout == "file":
        folder.write_text("x")
    clean_env.setenv("MODEL_DIR", str(folder))
    with pytest.raises(ManifestError) as served:
        get_predictor(get_settings())
    assert str(served.value) == (
        f"no model at {folder}: {what} (train one with `python -m training train` or set MODEL_DIR)"
    )
    with pytest.raises(ManifestError) as loaded:
        load_predictor(folder)
    assert str(loaded.value) == f"no model at {folder}: {what}"


def test_tampered_model_file_is_never_unpickled(model_copy: Path) -> None:
    with (model_copy / "model.joblib").open("ab") as fh:
        fh.write(b"tampered")
    with pytest.raises(IntegrityError, match="does not match its manifest hash"):
        load_predictor(model_copy, "joblib")
    # auto serves the (intact, verified) lean files and never opens the pickle
    assert load_predictor(model_copy).backend == "lean"


def test_file_not_in_manifest_is_refused(model_copy: Path) -> None:
    edit_manifest(model_copy, files={})
    with pytest.raises(IntegrityError, match="not listed in the manifest"):
        load_predictor(model_copy)


def test_corrupt_manifest(model_copy: Path) -> None:
    (model_copy / "manifest.json").write_text("{not json")
    with pytest.raises(ManifestError, match="cannot read"):
        load_predictor(model_copy)
    (model_copy / "manifest.json").write_text('{"version": "x"}')
    with pytest.raises(ManifestError, match="missing keys classes, files, backends"):
        load_predictor(model_copy)


def test_other_sklearn_version_warns_or_refuses(model_copy: Path, clean_env, caplog) -> None:
    manifest = json.loads((model_copy / "manifest.json").read_text())
    edit_manifest(model_copy, libraries={**manifest["libraries"], "scikit-learn": "0.24.2"})
    with caplog.at_level("WARNING"):
        load_predictor(model_copy, "joblib")
    assert "trained with scikit-learn 0.24.2" in caplog.text
    with pytest.raises(ModelLoadError, match="scikit-learn version policy: refuse"):
        load_predictor(model_copy, "joblib", sklearn_version_policy="refuse")


def test_unknown_backend_is_refused(model_copy: Path) -> None:
    edit_manifest(model_copy, backends={"onnx": {}})
    with pytest.raises(ModelLoadError, match="no backend this runtime knows"):
        load_predictor(model_copy)


def test_invalid_settings_fail_fast(clean_env) -> None:
    from textclf.settings import SettingsError, get_settings

    clean_env.setenv("MAX_TEXT_CHARS", "lots")
    with pytest.raises(SettingsError, match="MAX_TEXT_CHARS"):
        get_predictor(get_settings())


def test_missing_sklearn_says_which_layer_to_attach(model_copy: Path, monkeypatch) -> None:
    import sys

    manifest = json.loads((model_copy / "manifest.json").read_text())
    edit_manifest(model_copy, backends={"joblib": manifest["backends"]["joblib"]})  # a joblib-only model
    monkeypatch.setitem(sys.modules, "textclf.backends.joblib_backend", None)  # import fails
    with pytest.raises(ModelLoadError, match="deploy with ModelBackend=joblib"):
        load_predictor(model_copy)
