"""The model: TF-IDF word and character n-grams into a linear classifier.

Every family shares the same fitted shape, which the lean exporter reads::

    Pipeline([
        ("features", FeatureUnion([("word", TfidfVectorizer), ("char", TfidfVectorizer)])),
        ("clf", CalibratedClassifierCV(LinearSVC | SVC(kernel="linear"), sigmoid) | LogisticRegression),
    ])

The SVMs are wrapped in sigmoid calibration (one estimator fitted on the whole
training split plus one sigmoid per class, ``ensemble=False``) so that the API's
scores are probabilities; logistic regression already gives probabilities.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace
from typing import Any, Literal

import numpy as np
from sklearn.calibration import CalibratedClassifierCV
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import FeatureUnion, Pipeline
from sklearn.svm import SVC, LinearSVC

SEED = 42

Family = Literal["linear-svm", "svc-linear", "logreg"]
FAMILIES: tuple[Family, ...] = ("linear-svm", "svc-linear", "logreg")
Penalty = Literal["l2", "l1"]
# which penalties each family can use (SVC's libsvm solver only has the L2 one)
PENALTIES: dict[Family, tuple[Penalty, ...]] = {
    "linear-svm": ("l2", "l1"),
    "svc-linear": ("l2",),
    "logreg": ("l2", "l1"),
}
DEFAULT_C: dict[Family, float] = {"linear-svm": 0.5, "svc-linear": 1.0, "logreg": 5.0}


@dataclass(frozen=True)
class ModelOptions:
    """Hyper-parameters of a pipeline: features, classifier, calibration."""

    family: Family = "linear-svm"
    C: float = 0.5
    penalty: Penalty = "l2"
    word_ngrams: tuple[int, int] = (1, 2)
    char_ngrams: tuple[int, int] = (2, 5)
    sublinear_tf: bool = True
    min_df: int = 1
    calibration_folds: int = 5

    @classmethod
    def for_family(cls, family: Family, **changes: Any) -> ModelOptions:
        """Defaults of ``family`` (its usual C), with ``changes`` applied."""
        return replace(cls(family=family, C=DEFAULT_C[family]), **changes)

    def as_dict(self) -> dict[str, object]:
        return asdict(self)


def build_features(options: ModelOptions) -> FeatureUnion:
    """Word n-grams and character n-grams within word boundaries, each TF-IDF weighted."""

    def tfidf(analyzer: Literal["word", "char_wb"], ngrams: tuple[int, int]) -> TfidfVectorizer:
        return TfidfVectorizer(
            analyzer=analyzer,
            ngram_range=ngrams,
            lowercase=True,
            sublinear_tf=options.sublinear_tf,
            min_df=options.min_df,
            dtype=np.float64,
        )

    # n_jobs=1: vectorizers fitted in another process would pickle to different bytes (object
    # sharing changes), and the model version must not depend on how many CPUs trained it
    return FeatureUnion(
        [("word", tfidf("word", options.word_ngrams)), ("char", tfidf("char_wb", options.char_ngrams))],
        n_jobs=1,
    )


def build_estimator(options: ModelOptions) -> Any:
    """The bare classifier of ``options`` (no calibration)."""
    if options.penalty not in PENALTIES[options.family]:
        raise ValueError(f"{options.family} does not support the {options.penalty} penalty")
    if options.family == "linear-svm":
        if options.penalty == "l1":  # L1 needs the primal solver
            return LinearSVC(C=options.C, penalty="l1", dual=False, random_state=SEED)
        return LinearSVC(C=options.C, random_state=SEED)
    if options.family == "svc-linear":
        return SVC(kernel="linear", C=options.C, random_state=SEED)
    if options.penalty == "l1":
        return LogisticRegression(
            C=options.C, l1_ratio=1.0, solver="saga", tol=1e-3, max_iter=300, random_state=SEED
        )
    return LogisticRegression(C=options.C, l1_ratio=0.0, solver="lbfgs", max_iter=300, random_state=SEED)


def build_classifier(options: ModelOptions, min_class_count: int | None = None) -> Any:
    """The ``clf`` step: SVMs calibrated with one sigmoid per class; logistic regression as is.

    Calibration uses ``options.calibration_folds`` folds, fewer if the smallest
    class has fewer examples (``min_class_count``), but never fewer than 2.
    """
    estimator = build_estimator(options)
    if options.family == "logreg":
        return estimator
    folds = options.calibration_folds
    if min_class_count is not None:
        folds = max(2, min(folds, min_class_count))
    return CalibratedClassifierCV(estimator, method="sigmoid", cv=folds, ensemble=False)


def build_pipeline(options: ModelOptions, min_class_count: int | None = None) -> Pipeline:
    """TF-IDF (word + char_wb n-grams) -> classifier with per-class probabilities."""
    return Pipeline(
        [("features", build_features(options)), ("clf", build_classifier(options, min_class_count))]
    )


def decision_scores(pipeline: Pipeline, texts: list[str]) -> np.ndarray:
    """The uncalibrated decision function, an (n_texts, n_classes) array (used for ROC curves).

    For a calibrated SVM this is the margin of the single estimator inside the
    calibration; binary models' single margin becomes ``[-m, m]``.
    """
    features = pipeline[:-1].transform(texts)
    clf = pipeline[-1]
    estimator = clf.calibrated_classifiers_[0].estimator if isinstance(clf, CalibratedClassifierCV) else clf
    raw = np.asarray(estimator.decision_function(features), dtype=np.float64)
    if raw.ndim == 1:
        raw = np.column_stack([-raw, raw])
    return raw
