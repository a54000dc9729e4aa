"""The model manifest: what a model folder holds, and how to check it.

``manifest.json`` is the contract between training (which writes it, in
``training/model_folder.py``) and serving (which reads it here before loading
anything): both go through :class:`Manifest`. Its ``format_version`` says which
layout it follows; folders written before the field existed have exactly layout 1,
so a manifest without it is read as format 1. A folder of any other format is
refused with one line naming both versions and what to do.
"""

# No `from __future__ import annotations` here: pydantic reads these classes' annotations when
# they are created (at import, during a cold start), and string annotations would cost it an eval each.
import hashlib
import json
from pathlib import Path
from typing import Any, Final, Literal, Self

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from textclf.errors import IntegrityError, ManifestError, ModelMissingError

MANIFEST_NAME = "manifest.json"
# The manifest layout this code writes and reads (absent in a manifest: 1).
FORMAT_VERSION: Final = 1
CHUNK = 1 << 20
RETRAIN_HINT = "retrain with `make train` (or `python -m training train`)"

ScoreKind = Literal["probability", "decision"]
Sha256 = Field(pattern=r"^[0-9a-f]{64}$")


def sha256_file(path: Path) -> str:
    """Hex SHA-256 of a file, read in chunks (the one place model files are hashed)."""
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        while block := fh.read(CHUNK):
            digest.update(block)
    return digest.hexdigest()


def score_kind(model: object) -> ScoreKind:
    """What a fitted scikit-learn model's scores are: ``probability`` when it has
    ``predict_proba``, else ``decision`` (``decision_function`` values)."""
    return "probability" if hasattr(model, "predict_proba") else "decision"


def model_version(file_hashes: dict[str, str]) -> str:
    """Content hash of a model: the SHA-256 of its files' names and hashes, 16 hex digits."""
    digest = hashlib.sha256()
    for name in sorted(file_hashes):
        digest.update(f"{name}\0{file_hashes[name]}\n".encode())
    return digest.hexdigest()[:16]


class _Strict(BaseModel):
    # defer_build: a model's validator is built when first used, and the outermost model builds its
    # parts' schemas with its own, so a cold start pays for the validators it uses, once.
    # strict: a hand-edited "bytes": "12" or "classes": [1, 2] is refused, not converted
    model_config = ConfigDict(strict=True, extra="forbid", frozen=True, defer_build=True)


class FileEntry(_Strict):
    """One file of the folder: its SHA-256 (hex) and size in bytes."""

    sha256: str = Sha256
    bytes: int = Field(ge=0)

    @classmethod
    def of(cls, path: Path) -> Self:
        return cls(sha256=sha256_file(path), bytes=path.stat().st_size)


class JoblibBackend(_Strict):
    """The scikit-learn pipeline, pickled by joblib (unpickled only once its hash matches)."""

    file: str = "model.joblib"


class Parity(_Strict):
    """How the lean artefact was checked against the pipeline at export: texts compared,
    the largest absolute score difference found, and the tolerance it had to meet."""

    texts: int = Field(ge=0)
    max_abs_diff: float = Field(ge=0)
    tolerance: float = Field(ge=0)


class LeanBackend(_Strict):
    """The lean artefact: its spec file and every file it reads (all listed under ``files``)."""

    spec: str = "lean.json"
    files: list[str] = Field(min_length=1)
    parity: Parity | None = None


class Backends(BaseModel):
    """The ways the folder can be served. Names this code does not know (from a later
    training) are kept, so the loader can say it knows none of them."""

    model_config = ConfigDict(strict=True, extra="allow", frozen=True, defer_build=True)

    joblib: JoblibBackend | None = None
    lean: LeanBackend | None = None
    # why the lean artefact was not shipped (its parity check failed, unsupported model)
    lean_unavailable: str | None = None

    def names(self) -> list[str]:
        """Backends listed (``lean_unavailable`` is a note, not a backend)."""
        known = [name for name in ("joblib", "lean") if getattr(self, name) is not None]
        return known + [name for name in self.model_extra or {} if name != "lean_unavailable"]


class Manifest(BaseModel):
    """``manifest.json``: the model's version (content hash of ``files``), its classes in
    score-column order, every model file with its SHA-256, the backends that serve it.

    ``model``, ``metrics``, ``gate`` and ``data`` are training's records (the model card is
    rendered from them); serving passes them on unread. Other keys are kept as written.
    """

    model_config = ConfigDict(strict=True, extra="allow", defer_build=True)

    format_version: Literal[1] = FORMAT_VERSION
    version: str = Field(min_length=1)
    classes: list[str] = Field(min_length=1)
    files: dict[str, FileEntry]
    backends: Backends
    created_at: str | None = None
    libraries: dict[str, str] | None = None
    score_kind: ScoreKind | None = None
    # human-readable files beside the model (plots, card, smoke set, training rows):
    # hashed too, but not part of the version
    reports: dict[str, FileEntry] | None = None
    model: dict[str, Any] | None = None
    metrics: dict[str, Any] | None = None
    gate: dict[str, Any] | None = None
    data: dict[str, Any] | None = None

    def to_json(self) -> dict[str, Any]:
        """The JSON object as written (fields never given are left out). Floats stay floats:
        an infinite or NaN value in a record is refused by :meth:`dumps` (JSON has none),
        never turned into ``null``."""
        return self.model_dump(mode="python", exclude_unset=True)

    def dumps(self) -> str:
        return json.dumps(self.to_json(), indent=2, allow_nan=False) + "\n"

    @classmethod
    def parse(cls, value: object, where: str) -> Self:
        """Validate a decoded ``manifest.json``; :class:`ManifestError` (one line) if it
        is not an object, is of another format version, or has a missing or mistyped key."""
        if not isinstance(value, dict):
            raise ManifestError(f"{where}: expected a JSON object")
        found = value.get("format_version", FORMAT_VERSION)
        if found != FORMAT_VERSION or type(found) is not int:
            raise ManifestError(
                f"{where} is manifest format {found!r}; this textclf reads format {FORMAT_VERSION}: "
                f"{RETRAIN_HINT}, or serve it with the textclf release that wrote it"
            )
        try:
            return cls.model_validate(value)
        except ValidationError as exc:
            raise ManifestError(f"{where}: {describe(exc)}") from None


def describe(exc: ValidationError, most: int = 3) -> str:
    """A pydantic error as one line: where and what, never the offending value."""
    errors = exc.errors(include_url=False, include_input=False)
    missing = [str(e["loc"][0]) for e in errors if e["type"] == "missing" and len(e["loc"]) == 1]
    if missing:
        return f"missing keys {', '.join(missing)}"
    parts = [f"{_one_line('.'.join(map(str, e['loc']))) or 'value'}: {e['msg']}" for e in errors[:most]]
    more = f" (and {len(errors) - most} more)" if len(errors) > most else ""
    return "invalid " + "; ".join(parts) + more


def _one_line(text: str) -> str:
    """``text`` with line breaks and other control characters escaped (a key may hold them)."""
    return "".join(repr(c)[1:-1] if not c.isprintable() and c != " " else c for c in text)


def read_manifest(model_dir: Path) -> Manifest:
    """Parse and validate ``manifest.json`` in ``model_dir``.

    Raises :class:`ManifestError` (one line) when it is not JSON, of another format version,
    or has a missing or mistyped key; :class:`ModelMissingError` (a ``ManifestError``) when
    there is none, or no such folder. That message states only the fact: the caller knows
    what the user should do (serving: set ``MODEL_DIR``; training: pass another folder) and
    adds it with :meth:`ModelMissingError.with_hint`.
    """
    path = model_dir / MANIFEST_NAME
    try:
        value = json.loads(path.read_text(encoding="utf-8"))
    except (FileNotFoundError, NotADirectoryError):
        if model_dir.is_dir():
            what = f"{MANIFEST_NAME} is missing"
        else:
            what = "it is a file, not a folder" if model_dir.exists() else "no such folder"
        raise ModelMissingError(model_dir, what) from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ManifestError(f"cannot read {path}: {exc}") from None
    return Manifest.parse(value, str(path))


def verify_folder(model_dir: Path, manifest: Manifest) -> None:
    """Check every file the manifest lists (model ``files`` and ``reports``) against its SHA-256;
    :class:`IntegrityError` (one line, naming the first file that fails) on any mismatch or
    missing file. What ``evaluate`` runs before it reports anything: a folder passes only if
    every backend that serving might pick, and every record beside it, is as training wrote it."""
    verify_files(model_dir, manifest, list(manifest.files))
    for name, entry in (manifest.reports or {}).items():
        _check(model_dir / name, entry, "refusing to use this model folder")


def _check(path: Path, entry: FileEntry, refusal: str) -> None:
    if not path.is_file():
        raise IntegrityError(f"{path} is missing")
    actual = sha256_file(path)
    if actual != entry.sha256:
        raise IntegrityError(
            f"{path} does not match its manifest hash (expected {entry.sha256[:12]}..., "
            f"got {actual[:12]}...): {refusal}"
        )


def verify_files(model_dir: Path, manifest: Manifest, names: list[str]) -> None:
    """Check each named file against the SHA-256 recorded in the manifest's ``files``;
    :class:`IntegrityError` on any mismatch.

    Run before anything is deserialised, so that only files written by our own
    training build are ever loaded (a pickle can execute code).
    """
    for name in names:
        entry = manifest.files.get(name)
        if entry is None:
            raise IntegrityError(f"{name} is not listed in the manifest of {model_dir}")
        _check(model_dir / name, entry, "refusing to load it")
