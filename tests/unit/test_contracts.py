"""The training -> serving contracts (``manifest.json``, ``lean.json``) as pydantic models:
every field validated, one-line errors naming the field, another format version refused
with both versions and what to do. No training here: records are built by hand."""

from __future__ import annotations

import copy
import hashlib
import json
import pickle
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from textclf.backends.lean.loading import check_runtime
from textclf.backends.lean.spec import FORMAT, LeanSpec
from textclf.errors import BackendUnavailableError, ManifestError
from textclf.manifest import (
    FORMAT_VERSION,
    MANIFEST_NAME,
    FileEntry,
    Manifest,
    read_manifest,
    score_kind,
    sha256_file,
)

SHA = "ab" * 32
# a value that must never be echoed back in an error message
SECRET = "secret-value-3f9a"


def entry(size: int = 10) -> dict[str, Any]:
    return {"sha256": SHA, "bytes": size}


def manifest_record() -> dict[str, Any]:
    """A manifest as training writes it (every key it writes today)."""
    return {
        "format_version": 1,
        "version": "0123456789abcdef",
        "classes": ["billing", "shipping"],
        "created_at": "2026-11-30T00:00:00+00:00",
        "libraries": {"python": "3.13.0", "scikit-learn": "1.7.0"},
        "files": {"model.joblib": entry(), "lean.json": entry(20)},
        "backends": {
            "joblib": {"file": "model.joblib"},
            "lean": {
                "spec": "lean.json",
                "files": ["lean.json"],
                "parity": {"texts": 12, "max_abs_diff": 1e-16, "tolerance": 1e-9},
            },
        },
        "score_kind": "probability",
        "model": {"family": "linear_svm", "params": {"C": 1.0}},
        "metrics": {"accuracy": 0.9},
        "gate": {"decision": "passed"},
        "data": {"file": "train.csv", "n_train": 10},
        "training_seconds": 1.5,
        "final_fit_seconds": 0.5,
        "reports": {"MODEL_CARD.md": entry(5)},
    }


def write_manifest(folder: Path, record: object) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / MANIFEST_NAME).write_text(json.dumps(record), encoding="utf-8")
    return folder


def refusal(record: object, tmp_path: Path) -> str:
    with pytest.raises(ManifestError) as caught:
        read_manifest(write_manifest(tmp_path / "model", record))
    message = str(caught.value)
    assert "\n" not in message
    return message


def test_a_manifest_as_training_writes_it_round_trips_exactly() -> None:
    record = manifest_record()
    manifest = Manifest.parse(record, "test")
    assert manifest.to_json() == record
    assert json.loads(manifest.dumps()) == record
    assert manifest.backends.names() == ["joblib", "lean"]
    assert manifest.files["lean.json"].bytes == 20


def test_an_unversioned_manifest_is_format_1_and_kept_as_written(tmp_path: Path) -> None:
    """Folders written before the field existed have exactly layout 1: users keep their models."""
    record = manifest_record()
    del record["format_version"]
    manifest = read_manifest(write_manifest(tmp_path, record))
    assert manifest.format_version == FORMAT_VERSION == 1
    assert manifest.to_json() == record  # /model shows the file as it is


@pytest.mark.parametrize("found", [0, 2, 99, -1, "1", "2", True, None, 1.5, [1]])
def test_another_format_version_is_refused_naming_both_and_what_to_do(tmp_path: Path, found: object) -> None:
    record = manifest_record()
    record["format_version"] = found
    message = refusal(record, tmp_path)
    assert f"manifest format {found!r}" in message
    assert "this textclf reads format 1" in message
    assert "make train" in message


def test_another_format_version_wins_over_its_other_differences(tmp_path: Path) -> None:
    """A later layout may rename anything: the version is what the user needs to hear."""
    message = refusal({"format_version": 2, "model_id": "x", "labels": ["a"]}, tmp_path)
    assert "manifest format 2" in message and "missing" not in message


# (path into the record, bad value, what the message names)
BAD_FIELDS: list[tuple[tuple[Any, ...], object, str]] = [
    (("version",), "", "version"),
    (("version",), 3, "version"),
    (("classes",), [], "classes"),
    (("classes",), [SECRET, 1], "classes.1"),
    (("classes",), SECRET, "classes"),
    (("created_at",), 5, "created_at"),
    (("libraries",), {"numpy": 2}, "libraries.numpy"),
    (("files",), [SECRET], "files"),
    (("files", "model.joblib", "sha256"), SECRET, "files.model.joblib.sha256"),
    (("files", "model.joblib", "sha256"), SHA.upper(), "files.model.joblib.sha256"),
    (("files", "model.joblib", "bytes"), "10", "files.model.joblib.bytes"),
    (("files", "model.joblib", "bytes"), -1, "files.model.joblib.bytes"),
    (("files", "model.joblib", "bytes"), 10.5, "files.model.joblib.bytes"),
    (("files", "model.joblib", "size"), 10, "files.model.joblib.size"),
    (("backends",), [SECRET], "backends"),
    (("backends", "joblib"), SECRET, "backends.joblib"),
    (("backends", "joblib", "file"), 3, "backends.joblib.file"),
    (("backends", "lean", "files"), [], "backends.lean.files"),
    (("backends", "lean", "files"), SECRET, "backends.lean.files"),
    (("backends", "lean", "spec"), None, "backends.lean.spec"),
    (("backends", "lean", "parity", "texts"), "12", "backends.lean.parity.texts"),
    (("backends", "lean", "parity", "max_abs_diff"), -1.0, "backends.lean.parity.max_abs_diff"),
    (("backends", "lean", "parity", "tolerance"), SECRET, "backends.lean.parity.tolerance"),
    (("backends", "lean_unavailable"), 3, "backends.lean_unavailable"),
    (("score_kind",), SECRET, "score_kind"),
    (("reports",), {"MODEL_CARD.md": {"sha256": SHA}}, "reports.MODEL_CARD.md.bytes"),
    (("model",), SECRET, "model"),
    (("metrics",), [0.9], "metrics"),
    (("gate",), 1, "gate"),
    (("data",), SECRET, "data"),
]


def set_path(record: dict[str, Any], path: tuple[Any, ...], value: object) -> dict[str, Any]:
    changed = copy.deepcopy(record)
    target = changed
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    return changed


@pytest.mark.parametrize(("path", "value", "named"), BAD_FIELDS, ids=lambda x: str(x)[:40])
def test_a_hand_edited_field_of_the_wrong_type_is_refused_naming_it(
    tmp_path: Path, path: tuple[Any, ...], value: object, named: str
) -> None:
    message = refusal(set_path(manifest_record(), path, value), tmp_path)
    assert f"invalid {named}: " in message or f"; {named}: " in message, message
    assert str(tmp_path) in message
    assert SECRET not in message  # where and what, never the value


@pytest.mark.parametrize("key", ["version", "classes", "files", "backends"])
def test_a_missing_required_key_is_named(tmp_path: Path, key: str) -> None:
    record = manifest_record()
    del record[key]
    assert refusal(record, tmp_path).endswith(f"missing keys {key}")


def test_backends_this_code_does_not_know_are_kept_and_listed() -> None:
    record = manifest_record()
    record["backends"] = {"onnx": {"file": "model.onnx"}, "lean_unavailable": "parity failed"}
    manifest = Manifest.parse(record, "test")
    assert manifest.backends.names() == ["onnx"]
    assert manifest.to_json() == record


def test_score_kind_and_file_hash_are_computed_in_one_place(tmp_path: Path) -> None:
    class Calibrated:
        def predict_proba(self) -> None: ...

    assert score_kind(Calibrated()) == "probability"
    assert score_kind(object()) == "decision"
    path = tmp_path / "blob"
    path.write_bytes(b"x" * 3_000_000)  # more than one read chunk
    assert sha256_file(path) == hashlib.sha256(path.read_bytes()).hexdigest()
    assert FileEntry.of(path) == FileEntry(sha256=sha256_file(path), bytes=3_000_000)


# -- generated manifests ---------------------------------------------------------------------------

names = st.text(st.characters(exclude_categories=("Cs",)), min_size=1, max_size=8)
json_values = st.recursive(
    # JSON has no infinity or NaN (dumps refuses them: see below)
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3),
    max_leaves=6,
)


@st.composite
def valid_records(draw: st.DrawFn) -> dict[str, Any]:
    files = draw(
        st.dictionaries(
            names,
            st.builds(
                lambda digest, size: {"sha256": digest, "bytes": size},
                st.text("0123456789abcdef", min_size=64, max_size=64),
                st.integers(0, 2**40),
            ),
            min_size=1,
            max_size=4,
        )
    )
    record: dict[str, Any] = {
        "version": draw(names),
        "classes": draw(st.lists(names, min_size=1, max_size=6)),
        "files": files,
        "backends": {"joblib": {"file": sorted(files)[0]}},
    }
    if draw(st.booleans()):
        record["format_version"] = 1
    if draw(st.booleans()):
        record["score_kind"] = draw(st.sampled_from(["probability", "decision"]))
    if draw(st.booleans()):
        record["data"] = draw(st.dictionaries(st.text(max_size=5), json_values, max_size=3))
    return record


@settings(max_examples=40, deadline=None)
@given(valid_records())
def test_generated_manifests_round_trip_through_json(record: dict[str, Any]) -> None:
    manifest = Manifest.parse(record, "test")
    assert Manifest.parse(json.loads(manifest.dumps()), "test").to_json() == manifest.to_json() == record


def paths(value: object, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    found = [prefix] if prefix else []
    if isinstance(value, dict):
        for key, item in value.items():
            found += paths(item, (*prefix, key))
    return found


ALL_PATHS = paths(manifest_record())


@settings(max_examples=100, deadline=None)
@given(st.sampled_from(ALL_PATHS), json_values)
def test_any_edit_is_read_or_refused_with_a_manifest_error(path: tuple[Any, ...], value: object) -> None:
    """Whatever a hand edit puts anywhere, reading ends in a Manifest or one ManifestError line."""
    record = set_path(manifest_record(), path, value)
    try:
        Manifest.parse(record, "manifest.json")
    except ManifestError as exc:
        assert "\n" not in str(exc)


# -- lean.json -------------------------------------------------------------------------------------


def lean_record() -> dict[str, Any]:
    vectorizer = {
        "name": "word",
        "type": "TfidfVectorizer",
        "analyzer": "word",
        "lowercase": True,
        "strip_accents": None,
        "token_pattern": r"(?u)\b\w\w+\b",
        "stop_words": None,
        "ngram_range": [1, 2],
        "binary": False,
        "sublinear_tf": True,
        "norm": "l2",
        "weight": None,
        "offset": 0,
        "n_features": 4,
        "vocabulary": {"file": "lean-vocab-0.txt", "separator": "\n"},
        "idf": "lean-idf-0.npy",
    }
    return {
        "format": FORMAT,
        "python": "3.13",
        "unicodedata": "15.1.0",
        "classes": ["billing", "shipping"],
        "n_features": 4,
        "n_outputs": 1,
        "vectorizers": [vectorizer],
        "coef": {"layout": "dense", "file": "lean-coef.npy"},
        "head": {
            "calibrated": False,
            "link": "decision",
            "members": [{"kind": "linear", "columns": [0, 1], "intercept": [0.5], "n_classes": 2}],
        },
    }


def test_a_lean_spec_as_export_writes_it_round_trips_exactly() -> None:
    record = lean_record()
    assert LeanSpec.model_validate(record).model_dump(mode="json") == {
        **record,
        "head": {
            **record["head"],
            "members": [{**record["head"]["members"][0], "calibration": None}],
        },
    }
    sparse = {
        **record,
        "coef": {"layout": "csr", "nnz": 3, "indptr": "p.npy", "indices": "i.npy", "data": "d.npy"},
    }
    assert LeanSpec.model_validate(sparse).coef.layout == "csr"


BAD_LEAN: list[tuple[tuple[Any, ...], object, str]] = [
    (("classes",), [], "classes"),
    (("n_outputs",), 0, "n_outputs"),
    (("n_features",), "4", "n_features"),
    (("vectorizers",), [], "vectorizers"),
    (("vectorizers", 0, "analyzer"), "sentencepiece", "vectorizers.0.analyzer"),
    (("vectorizers", 0, "ngram_range"), [2, 1], "vectorizers.0.ngram_range"),
    (("vectorizers", 0, "ngram_range"), [1, 2, 3], "vectorizers.0.ngram_range"),
    (("vectorizers", 0, "norm"), "max", "vectorizers.0.norm"),
    (("vectorizers", 0, "lowercase"), "yes", "vectorizers.0.lowercase"),
    (("vectorizers", 0, "offset"), -1, "vectorizers.0.offset"),
    (("vectorizers", 0, "vocabulary", "separator"), "", "vectorizers.0.vocabulary.separator"),
    (("vectorizers", 0, "type"), "HashingVectorizer", "vectorizers.0.type"),
    (("coef", "layout"), "coo", "coef"),
    (("head", "link"), "probit", "head.link"),
    (("head", "members"), [], "head.members"),
    (("head", "members", 0, "kind"), "rbf", "head.members.0.kind"),
    (("head", "members", 0, "intercept"), ["0.5"], "head.members.0.intercept.0"),
]


@pytest.mark.parametrize(("path", "value", "named"), BAD_LEAN, ids=lambda x: str(x)[:40])
def test_every_lean_spec_field_is_validated(path: tuple[Any, ...], value: object, named: str) -> None:
    from pydantic import ValidationError

    from textclf.manifest import describe

    with pytest.raises(ValidationError) as caught:
        LeanSpec.model_validate(set_path(lean_record(), path, value))
    assert named in describe(caught.value)


@pytest.mark.parametrize("found", ["textclf-lean/2", "textclf-lean/0", None, 1])
def test_a_lean_spec_of_another_format_makes_the_backend_unavailable(found: object) -> None:
    with pytest.raises(BackendUnavailableError) as caught:
        check_runtime({**lean_record(), "format": found}, "lean.json")
    message = str(caught.value)
    assert f"format {found!r}" in message and f"reads {FORMAT}" in message and "make train" in message


@pytest.mark.parametrize("value", [float("inf"), float("-inf"), float("nan")])
def test_a_record_holding_a_non_finite_float_is_refused_not_written_as_null(value: float) -> None:
    record = {"version": "v", "classes": ["a"], "files": {}, "backends": {}, "metrics": {"x": value}}
    manifest = Manifest.model_validate(record)
    with pytest.raises(ValueError):
        manifest.dumps()


# -- no model: the core states the fact, each caller adds its own advice ---------------------------


@pytest.mark.parametrize(
    ("layout", "what"),
    [
        ("absent", "no such folder"),
        ("empty", "manifest.json is missing"),
        ("others", "manifest.json is missing"),
        ("file", "it is a file, not a folder"),
    ],
)
def test_no_model_is_stated_as_a_fact_without_advice(tmp_path: Path, layout: str, what: str) -> None:
    """The core's message is shown by serving (which reads MODEL_DIR) and by training (which does
    not): it says what is missing and leaves what to do to the caller."""
    from textclf.errors import ModelMissingError

    folder = tmp_path / "model"
    if layout == "file":
        folder.write_text("{}", encoding="utf-8")
    elif layout != "absent":
        folder.mkdir()
    if layout == "others":
        (folder / "model.joblib").write_bytes(b"x")
    with pytest.raises(ModelMissingError) as caught:
        read_manifest(folder)
    error = caught.value
    assert isinstance(error, ManifestError)  # callers catching ManifestError still do
    assert str(error) == f"no model at {folder}: {what}"
    assert error.model_dir == folder and error.what == what
    hinted = error.with_hint("pass another folder")
    assert str(hinted) == f"no model at {folder}: {what} (pass another folder)"
    assert isinstance(hinted, ModelMissingError) and hinted.model_dir == folder
    assert str(pickle.loads(pickle.dumps(hinted))) == str(hinted)  # crosses process boundaries intact


def test_verify_folder_checks_every_listed_file_and_report(tmp_path: Path) -> None:
    from textclf.errors import IntegrityError
    from textclf.manifest import verify_folder

    folder = tmp_path / "model"
    folder.mkdir()
    contents = {"model.joblib": b"pickle", "lean-coef.npy": b"coef", "lean.json": b"{}"}
    reports = {"MODEL_CARD.md": b"# card", "training_rows.u64": b"\0" * 8}
    for name, content in {**contents, **reports}.items():
        (folder / name).write_bytes(content)
    record = manifest_record()
    record["files"] = {n: FileEntry.of(folder / n).model_dump() for n in contents}
    record["reports"] = {n: FileEntry.of(folder / n).model_dump() for n in reports}
    manifest = Manifest.parse(record, "test")
    verify_folder(folder, manifest)
    for name, content in {**contents, **reports}.items():
        (folder / name).write_bytes(content + b"!")
        with pytest.raises(IntegrityError, match=f"{folder / name} does not match its manifest hash"):
            verify_folder(folder, manifest)
        (folder / name).unlink()
        with pytest.raises(IntegrityError, match=f"{folder / name} is missing"):
            verify_folder(folder, manifest)
        (folder / name).write_bytes(content)
    verify_folder(folder, manifest)
