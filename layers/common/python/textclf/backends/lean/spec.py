"""``lean.json``: the lean artefact's spec, written by ``training/export_lean.py`` and read
by :mod:`textclf.backends.lean.loading` through these same classes.

Its ``format`` names the layout (``textclf-lean/1``); ``python`` and ``unicodedata`` the
Python release and Unicode tables it was exported with (lower-casing and the regex
``\\w`` follow them). A spec of another format or Python is not an error of the folder:
the loader reports the lean backend unavailable and serving falls back to joblib.
"""

# No `from __future__ import annotations` here: pydantic reads these classes' annotations when
# they are created (at import, during a cold start), and string annotations would cost it an eval each.
from typing import Annotated, Final, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

FORMAT: Final = "textclf-lean/1"
SPEC_NAME = "lean.json"

AnalyzerKind = Literal["word", "char_wb", "char"]
AccentStripping = Literal["unicode", "ascii"]
Norm = Literal["l1", "l2"]
Link = Literal["decision", "logistic", "softmax", "calibrated"]
MemberKind = Literal["linear", "ovo"]


class _Strict(BaseModel):
    # defer_build: a model's validator is built when first used, and the outermost model builds its
    # parts' schemas with its own, so a cold start pays for the validators it uses, once.
    # strict: a hand-edited "offset": "0" or "lowercase": "yes" is refused, not converted
    model_config = ConfigDict(strict=True, extra="forbid", frozen=True, defer_build=True)


class VectorizerSettings(_Strict):
    """How one Count/TfidfVectorizer turns a text into columns and weights them; its
    columns are ``offset .. offset + n_features - 1`` of the whole feature space."""

    name: str
    type: Literal["CountVectorizer", "TfidfVectorizer"]
    analyzer: AnalyzerKind
    lowercase: bool
    strip_accents: AccentStripping | None
    token_pattern: str | None
    stop_words: list[str] | None
    ngram_range: list[int] = Field(min_length=2, max_length=2)
    binary: bool
    sublinear_tf: bool
    norm: Norm | None
    # the FeatureUnion's transformer weight, if any
    weight: float | None
    offset: int = Field(ge=0)
    n_features: int = Field(ge=0)

    @field_validator("ngram_range")
    @classmethod
    def _ordered(cls, value: list[int]) -> list[int]:
        if not 1 <= value[0] <= value[1]:
            raise ValueError("must be [min_n, max_n] with 1 <= min_n <= max_n")
        return value


class VocabularyFile(_Strict):
    """The terms in column order, joined by ``separator`` (a character no term contains)."""

    file: str
    separator: str = Field(min_length=1, max_length=1)


class VectorizerSpec(VectorizerSettings):
    """A vectorizer's settings and its files: vocabulary, and IDF (``.npy``) for TF-IDF."""

    vocabulary: VocabularyFile
    idf: str | None


class DenseCoef(_Strict):
    """Coefficients as one (n_features, n_outputs) float64 ``.npy``."""

    layout: Literal["dense"]
    file: str


class SparseCoef(_Strict):
    """Coefficients as CSR rows (one per feature): ``indptr`` int64 (n_features + 1,),
    ``indices`` uint16/int32 (nnz,) output columns, ``data`` float64 (nnz,)."""

    layout: Literal["csr"]
    nnz: int = Field(ge=0)
    indptr: str
    indices: str
    data: str


class Calibration(_Strict):
    """Sigmoid calibrators: class ``targets[i]`` gets 1 / (1 + exp(a[i] * d + b[i]))."""

    targets: list[int]
    a: list[float]
    b: list[float]


class MemberSpec(_Strict):
    """One fitted linear model of the head: its decision columns ``[start, stop)`` of the
    table's outputs, intercepts, and (when calibrated) its calibrators. ``ovo``: an SVC's
    one-vs-one margins over ``n_classes`` classes."""

    kind: MemberKind
    columns: list[int] = Field(min_length=2, max_length=2)
    intercept: list[float]
    n_classes: int = Field(default=0, ge=0)
    calibration: Calibration | None = None


class HeadSpec(_Strict):
    """Decision values -> scores: one member, or several averaged (calibrated cross-validation)."""

    calibrated: bool
    link: Link
    members: list[MemberSpec] = Field(min_length=1)


class LeanSpec(_Strict):
    """The whole ``lean.json``: classes in score-column order, the vectorizers (their
    columns contiguous from 0), the coefficient matrix and the head."""

    format: Literal["textclf-lean/1"]
    python: str
    unicodedata: str
    classes: list[str] = Field(min_length=1)
    n_features: int = Field(ge=0)
    n_outputs: int = Field(ge=1)
    vectorizers: list[VectorizerSpec] = Field(min_length=1)
    coef: Annotated[DenseCoef | SparseCoef, Field(discriminator="layout")]
    head: HeadSpec
