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


def test_missing_model_dir_says_what_to_do(tmp_path: Path) -> None:
    with pytest.raises(ManifestError, match="python -m training train"):
        load_predictor(tmp_path / "nothing-here")


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
