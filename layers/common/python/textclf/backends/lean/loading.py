"""Loading a lean artefact: verify its files, read its spec, build the predictor.

Nothing here can execute code from the model folder: arrays are read with
``allow_pickle=False``, vocabularies as text, the spec as JSON through :class:`LeanSpec`.
"""

from __future__ import annotations

import json
import re
import sys
import unicodedata
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
from pydantic import ValidationError

from textclf.backends.lean.analysis import Vectorizer
from textclf.backends.lean.head import Head
from textclf.backends.lean.predictor import LeanPredictor
from textclf.backends.lean.spec import FORMAT, DenseCoef, LeanSpec, SparseCoef
from textclf.backends.lean.table import DecisionTable
from textclf.errors import BackendUnavailableError, ModelLoadError
from textclf.manifest import RETRAIN_HINT, Manifest, describe, verify_files

Floats = npt.NDArray[np.float64]


def _load_array(path: Path, dtypes: tuple[type[np.generic], ...], shape: tuple[int, ...]) -> npt.NDArray[Any]:
    """A ``.npy`` file (never a pickle) of one of ``dtypes`` and exactly ``shape``."""
    try:
        array: npt.NDArray[Any] = np.load(path, allow_pickle=False)
    except (OSError, ValueError) as exc:
        raise ModelLoadError(f"cannot read {path}: {exc}") from None
    if array.dtype not in dtypes or array.shape != shape:
        expected = "/".join(np.dtype(d).name for d in dtypes)
        raise ModelLoadError(f"{path}: expected {expected} {shape}, found {array.dtype.name} {array.shape}")
    return array


def _load_vocabulary(path: Path, separator: str, size: int, offset: int) -> dict[str, int]:
    """Terms in column order, joined by ``separator`` (chosen so no term contains it)."""
    try:
        text = path.read_bytes().decode("utf-8", "surrogatepass")
    except (OSError, UnicodeDecodeError) as exc:
        raise ModelLoadError(f"cannot read {path}: {exc}") from None
    terms = text.split(separator) if size else []
    vocabulary = dict(zip(terms, range(offset, offset + size), strict=False))
    if len(terms) != size or len(vocabulary) != size:
        raise ModelLoadError(f"{path}: expected {size} distinct terms, found {len(terms)}")
    return vocabulary


def _load_coef(model_dir: Path, spec: DenseCoef | SparseCoef, n_features: int, n_outputs: int) -> Floats:
    """The (n_features, n_outputs) coefficient matrix, stored dense or as CSR rows."""
    shape = (n_features, n_outputs)
    if isinstance(spec, DenseCoef):
        coef: Floats = _load_array(model_dir / spec.file, (np.float64,), shape)
        return np.ascontiguousarray(coef)
    nnz = spec.nnz
    indptr = _load_array(model_dir / spec.indptr, (np.int64,), (n_features + 1,))
    indices = _load_array(model_dir / spec.indices, (np.uint16, np.int32), (nnz,))
    data = _load_array(model_dir / spec.data, (np.float64,), (nnz,))
    if (
        indptr[0] != 0
        or indptr[-1] != nnz
        or np.any(np.diff(indptr) < 0)
        or (nnz and (indices.min() < 0 or indices.max() >= n_outputs))
    ):
        raise ModelLoadError("lean model: malformed sparse coefficient matrix")
    flat = np.zeros(n_features * n_outputs)
    positions = np.repeat(np.arange(n_features, dtype=np.int64) * n_outputs, np.diff(indptr))
    positions += indices
    flat[positions] = data
    return flat.reshape(shape)


def load(model_dir: Path, manifest: Manifest) -> LeanPredictor:
    """Verify every lean file against the manifest, read ``lean.json`` through
    :class:`LeanSpec`, then build the predictor.

    Raises :class:`IntegrityError` when a file does not match its hash,
    :class:`BackendUnavailableError` when the spec is of another format or was exported
    with another Python or Unicode version (serving can fall back to joblib), and
    :class:`ModelLoadError` (one line) when it is malformed.
    """
    entry = manifest.backends.lean
    if entry is None:
        raise ModelLoadError("manifest has no 'lean' backend entry")
    if entry.spec not in entry.files:
        raise ModelLoadError(f"manifest lists no {entry.spec} among the lean files")
    verify_files(model_dir, manifest, entry.files)
    path = model_dir / entry.spec
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ModelLoadError(f"cannot read {path}: {exc}") from None
    check_runtime(raw, entry.spec)
    try:
        spec = LeanSpec.model_validate(raw)
    except ValidationError as exc:
        raise ModelLoadError(f"{path} is malformed: {describe(exc)}") from None
    try:
        return _build(model_dir, manifest, spec)
    except (IndexError, ValueError, re.error) as exc:
        raise ModelLoadError(f"{path} is malformed: {type(exc).__name__}: {exc}") from None


def check_runtime(raw: object, name: str) -> None:
    """:class:`BackendUnavailableError` unless the spec is of :data:`FORMAT` and was
    exported by this Python release with these Unicode tables."""
    found = raw.get("format") if isinstance(raw, dict) else None
    if found != FORMAT:
        raise BackendUnavailableError(
            f"{name} has format {found!r}; this runtime reads {FORMAT}: {RETRAIN_HINT} to export it again"
        )
    assert isinstance(raw, dict)
    python = "{}.{}".format(*sys.version_info[:2])
    if raw.get("python") != python:
        # str.lower and the re module follow the Python release that trained the model
        raise BackendUnavailableError(
            f"lean model was exported by Python {raw.get('python')}, this is {python}"
        )
    if raw.get("unicodedata") != unicodedata.unidata_version:
        # lowercasing and the regex \w depend on the Unicode tables of the Python build
        raise BackendUnavailableError(
            f"lean model was exported with Unicode {raw.get('unicodedata')}, "
            f"this Python has {unicodedata.unidata_version}"
        )


def _build(model_dir: Path, manifest: Manifest, spec: LeanSpec) -> LeanPredictor:
    classes = tuple(spec.classes)
    if list(classes) != manifest.classes:
        raise ModelLoadError("lean model classes differ from the manifest's")
    vectorizers = []
    offset = 0
    for block in spec.vectorizers:
        size = block.n_features
        if block.offset != offset:
            raise ModelLoadError("lean model: vectorizer offsets are not contiguous")
        vocabulary = _load_vocabulary(
            model_dir / block.vocabulary.file, block.vocabulary.separator, size, offset
        )
        offset += size
        idf = None
        if block.idf is not None:
            idf = _load_array(model_dir / block.idf, (np.float64,), (size,))
            if not (np.isfinite(idf).all() and (idf > 0).all()):
                raise ModelLoadError(f"lean model: IDF of {block.name!r} must be positive and finite")
        vectorizers.append(Vectorizer(block, vocabulary, idf))
    if offset != spec.n_features:
        raise ModelLoadError(
            f"lean model: vectorizers cover {offset} columns, coefficients {spec.n_features}"
        )
    coef = _load_coef(model_dir, spec.coef, spec.n_features, spec.n_outputs)
    head = Head(spec.head, spec.n_outputs, len(classes))
    return LeanPredictor(manifest, classes, DecisionTable(vectorizers, coef), head)
