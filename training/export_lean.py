"""Export a fitted pipeline as the lean artefact, and prove that it scores the same.

The lean artefact (read by ``textclf.backends.lean``) is pure data: ``lean.json``
(:class:`textclf.backends.lean.spec.LeanSpec`, the class the backend reads it with)
with the analyzer settings, intercepts and calibration parameters, one vocabulary
text file per vectorizer, and ``.npy`` arrays for IDF weights and coefficients.

:func:`export_lean` writes it into a private folder, loads it back through the
lean backend exactly as the service would, and compares it with the scikit-learn
pipeline (as the joblib backend serves it) on the evaluation texts plus a set of
adversarial strings: identical labels and scores within :data:`PARITY_TOLERANCE`.
Only then does the model folder get a ``lean`` backend; otherwise the manifest
says why (``backends.lean_unavailable``) and the model ships with joblib alone.
"""

from __future__ import annotations

import json
import logging
import re
import shutil
import sys
import tempfile
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any

import numpy as np
from sklearn.calibration import CalibratedClassifierCV, _SigmoidCalibration
from sklearn.feature_extraction.text import CountVectorizer, TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import FeatureUnion, Pipeline
from sklearn.preprocessing import LabelEncoder
from sklearn.svm import SVC, LinearSVC

from textclf.backends import lean
from textclf.backends.joblib_backend import JoblibPredictor
from textclf.backends.lean.spec import (
    FORMAT,
    SPEC_NAME,
    Calibration,
    DenseCoef,
    HeadSpec,
    LeanSpec,
    Link,
    MemberKind,
    MemberSpec,
    SparseCoef,
    VectorizerSettings,
    VectorizerSpec,
    VocabularyFile,
)
from textclf.manifest import Backends, FileEntry, LeanBackend, Manifest, Parity, score_kind

logger = logging.getLogger(__name__)

PARITY_TOLERANCE = 1e-9
# Beyond this the dense coefficient matrix would not fit a Lambda function comfortably.
MAX_COEF_BYTES = 512 * 1024 * 1024
# Store coefficients as sparse rows when at most this share of them is non-zero.
SPARSE_DENSITY = 0.5
VOCABULARY_SEPARATORS = ("\n", "\x00", "\x1f", "\x1e", "\x1d", "\x1c")

# Strings that stress tokenisation and normalisation; checked on every export.
ADVERSARIAL_TEXTS: tuple[str, ...] = (
    "",
    " ",
    "!!!",
    "?!?!... ---- ***",
    "\t\n\r\x0b\x0c",
    "a",
    "I",
    "x y z",
    "refund refund refund refund refund",
    "REFUND Refund rEfUnD",
    "İstanbul İİİ iı",
    "STRASSE straße Straße ẞ",
    "café CAFÉ cafe\u0301 naïve coöperate",
    "e\u0301\u0302\u0303\u0304 a\u0308\u0308",
    "ﬁnance ﬀ ﬃ ligatures",
    "Ǆemal ǅ ǆ titlecase",
    "ΟΔΟΣ οδος ΣΑΣ σας",
    "😀😀 emoji 👍🏽 family 👨\u200d👩\u200d👧 flags 🇬🇧",
    "مرحبا، أريد استرداد أموالي",
    "שלום, ההזמנה שלי לא הגיעה",
    "\u202eright-to-left override\u202c and \u200fmark",
    "\u00a0no\u00a0break\u2003em\u3000ideographic\u2028line\u2029para",
    "sep\x1carators\x1d\x1e\x1fand\x85next\u1680ogham\u202fnarrow\u205fmath \u180emongolian",
    "zero\u200bwidth\u200cnon\u200djoiner\ufeffbom",
    "１２３ ＡＢＣ ｆｕｌｌｗｉｄｔｈ",
    "Ⅻ ½ ² ³ numerals ٣٤٥",
    "退款 我的订单没有到",
    "注文した商品が届きません",
    "환불해 주세요",
    "control\x00chars\x01\x07\x1b[31m\x7f",
    "tab\tseparated\tvalues\tand\nnew\nlines\r\nwindows",
    "a-b_c.d/e\\f|g@h#i$j%k^l&m*n(o)p",
    "under_score __init__ snake_case_words",
    "refund!!!refund???refund...",
    "$$$ 100% off!!! call 0800-123-456 now",
    "http://example.com/path?query=1&x=y",
    "x" * 3000,
    "supercalifragilisticexpialidocious" * 40,
    "word " * 1500,
    "ab " * 1000,
    "\ud800 lone \udfff surrogates",
)


class UnsupportedModelError(Exception):
    """The pipeline has a part the lean scorer does not reproduce."""


@dataclass
class LeanExport:
    """Outcome of an export: files ready to copy (if parity held) or the reason why not.

    Use it as a context manager; leaving the block removes the private folder.
    """

    directory: Path | None
    files: list[str] = field(default_factory=list)
    backend: LeanBackend | None = None
    unavailable: str | None = None

    def close(self) -> None:
        if self.directory is not None:
            shutil.rmtree(self.directory, ignore_errors=True)
            self.directory = None

    def __enter__(self) -> LeanExport:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()


def export_lean(pipeline: Any, parity_texts: Sequence[str]) -> LeanExport:
    """Build the lean artefact of ``pipeline`` and check it against the pipeline itself."""
    directory = Path(tempfile.mkdtemp(prefix="lean-export-"))
    try:
        files = write_artifact(pipeline, directory)
        parity = check_parity(pipeline, directory, files, list(parity_texts))
    except UnsupportedModelError as exc:
        shutil.rmtree(directory, ignore_errors=True)
        reason = str(exc)
        logger.warning("lean backend not exported: %s; the model ships with joblib only", reason)
        return LeanExport(directory=None, unavailable=reason)
    except BaseException:
        shutil.rmtree(directory, ignore_errors=True)
        raise
    logger.info("lean backend exported: parity on %d texts", parity.texts)
    backend = LeanBackend(spec=SPEC_NAME, files=files, parity=parity)
    return LeanExport(directory=directory, files=files, backend=backend)


# -- describing the pipeline ---------------------------------------------------------------


def _features_and_classifier(pipeline: Any) -> tuple[list[tuple[str, Any, float | None]], Any]:
    if type(pipeline) is not Pipeline:
        raise UnsupportedModelError(f"{type(pipeline).__name__} is not a scikit-learn Pipeline")
    steps = [(name, step) for name, step in pipeline.steps if step is not None and step != "passthrough"]
    if len(steps) != 2:
        raise UnsupportedModelError(
            f"pipeline has steps {[n for n, _ in steps]}; the lean scorer needs exactly features + classifier"
        )
    features, classifier = steps[0][1], steps[1][1]
    if type(features) is FeatureUnion:
        weights = features.transformer_weights or {}
        vectorizers: list[tuple[str, Any, float | None]] = []
        for name, transformer in features.transformer_list:
            if isinstance(transformer, str) and transformer == "drop":
                continue
            weight = weights.get(name)
            vectorizers.append((name, transformer, None if weight is None else float(weight)))
        if not vectorizers:
            raise UnsupportedModelError("the feature union drops every transformer")
    else:
        vectorizers = [(steps[0][0], features, None)]
    return vectorizers, classifier


def _vectorizer_spec(
    name: str, vec: Any, weight: float | None, offset: int
) -> tuple[VectorizerSettings, list[str], Any]:
    """Settings, terms in column order and IDF of one fitted vectorizer."""
    kind = type(vec)
    if kind not in (CountVectorizer, TfidfVectorizer):
        raise UnsupportedModelError(
            f"feature step {name!r} is a {kind.__name__}, not a Count/TfidfVectorizer"
        )
    if vec.input != "content":
        raise UnsupportedModelError(f"vectorizer {name!r} reads input={vec.input!r}")
    if vec.preprocessor is not None or vec.tokenizer is not None:
        raise UnsupportedModelError(f"vectorizer {name!r} has a custom preprocessor or tokenizer")
    if callable(vec.analyzer) or vec.analyzer not in ("word", "char", "char_wb"):
        raise UnsupportedModelError(f"vectorizer {name!r} has a custom analyzer")
    accents = vec.strip_accents or None
    if accents is not None and accents not in ("ascii", "unicode"):
        raise UnsupportedModelError(f"vectorizer {name!r} strips accents with a custom function")
    dtype = np.dtype(vec.dtype)
    if dtype != np.float64 and not (kind is CountVectorizer and np.issubdtype(dtype, np.integer)):
        raise UnsupportedModelError(f"vectorizer {name!r} produces {dtype.name} (float64 needed)")
    min_n, max_n = (int(n) for n in vec.ngram_range)
    token_pattern = None
    stop_words = None
    if vec.analyzer == "word":
        if not isinstance(vec.token_pattern, str) or re.compile(vec.token_pattern).groups > 1:
            raise UnsupportedModelError(f"vectorizer {name!r} has an unusable token_pattern")
        token_pattern = vec.token_pattern
        stops = vec.get_stop_words()
        stop_words = None if stops is None else sorted(str(w) for w in stops)
    sublinear, norm, idf = False, None, None
    if kind is TfidfVectorizer:
        tfidf = vec._tfidf  # the fitted transformer that ``transform`` uses
        sublinear, norm = bool(tfidf.sublinear_tf), tfidf.norm
        if norm not in (None, "l1", "l2"):
            raise UnsupportedModelError(f"vectorizer {name!r} has norm={norm!r}")
        if hasattr(tfidf, "idf_"):
            idf = np.ascontiguousarray(tfidf.idf_, dtype=np.float64)
    terms = _terms_in_column_order(name, vec.vocabulary_)
    if idf is not None and idf.shape != (len(terms),):
        raise UnsupportedModelError(f"vectorizer {name!r}: IDF and vocabulary sizes differ")
    spec = VectorizerSettings(
        name=name,
        type="CountVectorizer" if kind is CountVectorizer else "TfidfVectorizer",
        analyzer=vec.analyzer,
        lowercase=bool(vec.lowercase),
        strip_accents=accents,
        token_pattern=token_pattern,
        stop_words=stop_words,
        ngram_range=[min_n, max_n],
        binary=bool(vec.binary),
        sublinear_tf=sublinear,
        norm=norm,
        weight=weight,
        offset=offset,
        n_features=len(terms),
    )
    return spec, terms, idf


def _terms_in_column_order(name: str, vocabulary: dict[str, int]) -> list[str]:
    terms: list[str | None] = [None] * len(vocabulary)
    for term, column in vocabulary.items():
        if not 0 <= column < len(terms) or terms[column] is not None:
            raise UnsupportedModelError(f"vectorizer {name!r}: vocabulary columns are not 0..n-1")
        terms[column] = str(term)
    return [t for t in terms if t is not None]


def _estimator_part(est: Any) -> tuple[MemberKind, np.ndarray, np.ndarray, int]:
    """(kind, coef rows, intercepts, n_classes) of one fitted linear estimator."""
    kind = type(est)
    member_kind: MemberKind
    if kind in (LinearSVC, LogisticRegression):
        member_kind = "linear"
    elif kind is SVC:
        if est.kernel != "linear":
            raise UnsupportedModelError(
                f"SVC with kernel={est.kernel!r}; only the linear kernel is supported"
            )
        if len(est.classes_) > 2 and est.decision_function_shape != "ovr":
            raise UnsupportedModelError("SVC with decision_function_shape='ovo'")
        member_kind = "ovo"
    else:
        raise UnsupportedModelError(
            f"classifier {kind.__name__} (supported: LinearSVC, LogisticRegression, SVC(kernel='linear'))"
        )
    coef = est.coef_
    if hasattr(coef, "toarray"):
        coef = coef.toarray()
    coef = np.asarray(coef, dtype=np.float64)
    if coef.ndim != 2:
        raise UnsupportedModelError(f"{kind.__name__} has coefficients of shape {coef.shape}")
    intercept = np.broadcast_to(np.asarray(est.intercept_, dtype=np.float64), (coef.shape[0],)).copy()
    if not (np.isfinite(coef).all() and np.isfinite(intercept).all()):
        raise UnsupportedModelError(f"{kind.__name__} has non-finite coefficients")
    return member_kind, coef, intercept, len(est.classes_)


def _head(classifier: Any, pipeline: Any) -> tuple[HeadSpec, list[np.ndarray]]:
    """The head spec and the coefficient blocks (rows = outputs) of every member."""
    classes = list(pipeline.classes_)
    if type(classifier) is CalibratedClassifierCV:
        if classifier.method != "sigmoid":
            raise UnsupportedModelError(f"calibration method {classifier.method!r} (only 'sigmoid')")
        members, blocks = [], []
        start = 0
        for calibrated in classifier.calibrated_classifiers_:
            kind, coef, intercept, n_est_classes = _estimator_part(calibrated.estimator)
            if not all(type(c) is _SigmoidCalibration for c in calibrated.calibrators):
                raise UnsupportedModelError("calibrators other than sigmoid")
            n_classes = len(calibrated.classes)
            positions = LabelEncoder().fit(calibrated.classes).transform(calibrated.estimator.classes_)
            n_columns = n_est_classes if kind == "ovo" and n_est_classes > 2 else coef.shape[0]
            n_pairs = min(len(positions), n_columns, len(calibrated.calibrators))
            targets = [int(positions[j]) + (1 if n_classes == 2 else 0) for j in range(n_pairs)]
            if len(set(targets)) != len(targets):
                raise UnsupportedModelError("calibrators overlap on one class")
            members.append(
                MemberSpec(
                    kind=kind,
                    columns=[start, start + coef.shape[0]],
                    intercept=intercept.tolist(),
                    n_classes=n_est_classes,
                    calibration=Calibration(
                        targets=targets,
                        a=[float(c.a_) for c in calibrated.calibrators[:n_pairs]],
                        b=[float(c.b_) for c in calibrated.calibrators[:n_pairs]],
                    ),
                )
            )
            blocks.append(coef)
            start += coef.shape[0]
        if [str(c) for c in classifier.classes_] != [str(c) for c in classes]:
            raise UnsupportedModelError("calibrated classes differ from the pipeline's")
        return HeadSpec(calibrated=True, link="calibrated", members=members), blocks
    kind, coef, intercept, n_classes = _estimator_part(classifier)
    link: Link
    if score_kind(pipeline) == "decision":
        link = "decision"
    elif type(classifier) is LogisticRegression:
        link = "logistic" if n_classes <= 2 else "softmax"
    else:
        raise UnsupportedModelError(f"{type(classifier).__name__} probabilities (libsvm's Platt scaling)")
    member = MemberSpec(
        kind=kind, columns=[0, coef.shape[0]], intercept=intercept.tolist(), n_classes=n_classes
    )
    return HeadSpec(calibrated=False, link=link, members=[member]), [coef]


# -- writing -----------------------------------------------------------------------------------


def _save_array(directory: Path, name: str, array: np.ndarray) -> str:
    with (directory / name).open("wb") as fh:
        np.save(fh, np.ascontiguousarray(array), allow_pickle=False)
    return name


def _write_vocabulary(directory: Path, name: str, terms: list[str]) -> VocabularyFile:
    for separator in VOCABULARY_SEPARATORS:
        if not any(separator in term for term in terms):
            break
    else:
        raise UnsupportedModelError(f"vocabulary {name!r} has terms containing every separator we can use")
    (directory / name).write_bytes(separator.join(terms).encode("utf-8", "surrogatepass"))
    return VocabularyFile(file=name, separator=separator)


def write_artifact(pipeline: Any, directory: Path) -> list[str]:
    """Write the lean files of ``pipeline`` into ``directory``; returns their names."""
    vectorizers, classifier = _features_and_classifier(pipeline)
    files: list[str] = []
    blocks: list[VectorizerSpec] = []
    offset = 0
    for i, (name, vec, weight) in enumerate(vectorizers):
        settings, terms, idf = _vectorizer_spec(name, vec, weight, offset)
        vocabulary = _write_vocabulary(directory, f"lean-vocab-{i}.txt", terms)
        files.append(vocabulary.file)
        idf_file = None if idf is None else _save_array(directory, f"lean-idf-{i}.npy", idf)
        if idf_file is not None:
            files.append(idf_file)
        blocks.append(VectorizerSpec(**dict(settings), vocabulary=vocabulary, idf=idf_file))
        offset += len(terms)
    head, coef_blocks = _head(classifier, pipeline)
    coef = np.vstack(coef_blocks)  # (n_outputs, n_features)
    if coef.shape[1] != offset:
        raise UnsupportedModelError(f"classifier expects {coef.shape[1]} features, vectorizers make {offset}")
    if coef.size * 8 > MAX_COEF_BYTES:
        raise UnsupportedModelError(f"coefficient matrix {coef.shape} is too large for the lean scorer")
    by_feature = np.ascontiguousarray(coef.T)
    nnz = int(np.count_nonzero(by_feature))
    coef_spec: DenseCoef | SparseCoef
    if nnz <= SPARSE_DENSITY * by_feature.size:
        rows, columns = np.nonzero(by_feature)
        index_type = np.uint16 if by_feature.shape[1] <= np.iinfo(np.uint16).max else np.int32
        indptr = np.zeros(by_feature.shape[0] + 1, dtype=np.int64)
        np.cumsum(np.bincount(rows, minlength=by_feature.shape[0]), out=indptr[1:])
        coef_spec = SparseCoef(
            layout="csr",
            nnz=nnz,
            indptr=_save_array(directory, "lean-coef-indptr.npy", indptr),
            indices=_save_array(directory, "lean-coef-indices.npy", columns.astype(index_type)),
            data=_save_array(directory, "lean-coef-data.npy", by_feature[rows, columns]),
        )
        files += [coef_spec.indptr, coef_spec.indices, coef_spec.data]
    else:
        coef_spec = DenseCoef(layout="dense", file=_save_array(directory, "lean-coef.npy", by_feature))
        files.append(coef_spec.file)
    spec = LeanSpec(
        format=FORMAT,
        python="{}.{}".format(*sys.version_info[:2]),
        unicodedata=unicodedata.unidata_version,
        classes=[str(c) for c in pipeline.classes_],
        n_features=offset,
        n_outputs=coef.shape[0],
        vectorizers=blocks,
        coef=coef_spec,
        head=head,
    )
    text = json.dumps(spec.model_dump(mode="json"), indent=1, allow_nan=False)
    (directory / SPEC_NAME).write_text(text + "\n", encoding="utf-8")
    return [SPEC_NAME, *files]


# -- parity --------------------------------------------------------------------------------------


def vocabulary_texts(pipeline: Any, per_block: int = 40, terms_per_text: int = 25) -> list[str]:
    """Texts made of the model's own vocabulary terms, so rare columns get exercised too."""
    vectorizers, _ = _features_and_classifier(pipeline)
    texts = []
    for _, vec, _ in vectorizers:
        terms = sorted(vec.vocabulary_, key=vec.vocabulary_.__getitem__)
        step = max(1, len(terms) // (per_block * terms_per_text))
        sample = terms[::step][: per_block * terms_per_text]
        for i in range(0, len(sample), terms_per_text):
            chunk = sample[i : i + terms_per_text]
            texts.append(" ".join(chunk))
            texts.append(" ".join(chunk[:3] * 4).upper())
    return texts


def parity_manifest(
    pipeline: Any, directory: Path, files: list[str], version: str = "parity-check"
) -> Manifest:
    """A manifest for the lean files in ``directory`` alone, so that they load exactly as the
    service loads them (hashes verified, spec read through the same classes)."""
    return Manifest(
        version=version,
        classes=[str(c) for c in pipeline.classes_],
        files={name: FileEntry.of(directory / name) for name in files},
        backends=Backends(lean=LeanBackend(spec=SPEC_NAME, files=files)),
        score_kind=score_kind(pipeline),
    )


def check_parity(pipeline: Any, directory: Path, files: list[str], texts: list[str]) -> Parity:
    """Load the lean files as the service would and compare with the pipeline.

    Raises :class:`UnsupportedModelError` when a label differs or a score is more
    than :data:`PARITY_TOLERANCE` away.
    """
    manifest = parity_manifest(pipeline, directory, files)
    scorer = lean.load(directory, manifest)
    reference = JoblibPredictor(pipeline, manifest)
    all_texts = [*texts, *ADVERSARIAL_TEXTS, *vocabulary_texts(pipeline)]
    expected = reference.score_matrix(all_texts)
    # the lean scorer has two paths: texts together (batch scoring), one text per call (the API)
    together = scorer.score_matrix(all_texts)
    one_by_one = np.concatenate([scorer.score_matrix([text]) for text in all_texts])
    worst = 0.0
    for path, got in (("together", together), ("one text per call", one_by_one)):
        if got.shape != expected.shape:
            raise UnsupportedModelError(
                f"parity: lean scores have shape {got.shape}, scikit-learn {expected.shape}"
            )
        diff = np.abs(got - expected)
        path_worst = float(diff.max()) if diff.size else 0.0
        if not np.isfinite(got).all() or not path_worst <= PARITY_TOLERANCE:
            row = int(np.nanargmax(np.where(np.isfinite(diff), diff, np.inf).max(axis=1)))
            raise UnsupportedModelError(
                f"parity check failed: scores differ by up to {path_worst:.3g} (> {PARITY_TOLERANCE:g}) "
                f"on text #{row} of {len(all_texts)} ({path})"
            )
        mismatched = np.flatnonzero(got.argmax(axis=1) != expected.argmax(axis=1))
        if len(mismatched):
            raise UnsupportedModelError(
                f"parity check failed: {len(mismatched)} of {len(all_texts)} labels differ "
                f"(first: text #{mismatched[0]}, {path})"
            )
        worst = max(worst, path_worst)
    return Parity(texts=len(all_texts), max_abs_diff=worst, tolerance=PARITY_TOLERANCE)
