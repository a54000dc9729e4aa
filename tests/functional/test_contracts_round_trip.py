"""Training writes a model folder through the contract classes and serving reads it back
through the same ones: nothing lost, nothing added, on the session's trained model."""

from __future__ import annotations

import json
from pathlib import Path

from textclf.backends.lean.spec import SPEC_NAME, LeanSpec
from textclf.manifest import FORMAT_VERSION, MANIFEST_NAME, FileEntry, Manifest, model_version, read_manifest
from textclf.model import load_predictor


def test_the_manifest_training_wrote_reads_back_byte_for_byte(model_dir: Path) -> None:
    manifest = read_manifest(model_dir)
    assert manifest.format_version == FORMAT_VERSION
    assert json.loads((model_dir / MANIFEST_NAME).read_text())["format_version"] == FORMAT_VERSION
    assert manifest.dumps() == (model_dir / MANIFEST_NAME).read_text(encoding="utf-8")
    assert manifest.version == model_version({name: f.sha256 for name, f in manifest.files.items()})
    for name, entry in {**manifest.files, **(manifest.reports or {})}.items():
        assert FileEntry.of(model_dir / name) == entry, name


def test_the_lean_spec_training_wrote_reads_back_unchanged(model_dir: Path) -> None:
    manifest = read_manifest(model_dir)
    assert manifest.backends.lean is not None and manifest.backends.lean.spec == SPEC_NAME
    written = json.loads((model_dir / SPEC_NAME).read_text(encoding="utf-8"))
    spec = LeanSpec.model_validate(written)
    assert spec.model_dump(mode="json") == written
    assert spec.classes == manifest.classes


def test_serving_gets_the_typed_manifest_and_the_api_shows_it_as_written(model_dir: Path) -> None:
    for backend in ("lean", "joblib"):
        predictor = load_predictor(model_dir, backend)
        assert isinstance(predictor.manifest, Manifest)
        assert predictor.version == predictor.manifest.version
        assert predictor.classes == tuple(predictor.manifest.classes)
        written = json.loads((model_dir / MANIFEST_NAME).read_text(encoding="utf-8"))
        assert predictor.manifest.to_json() == written
