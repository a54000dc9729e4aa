"""The model: TF-IDF word and character n-grams into a linear SVM, calibrated."""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
from sklearn.calibration import CalibratedClassifierCV
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.pipeline import FeatureUnion, Pipeline
from sklearn.svm import LinearSVC

SEED = 42


@dataclass(frozen=True)
class ModelOptions:
    """Hyper-parameters of the default pipeline."""

    C: float = 0.5
    word_ngrams: tuple[int, int] = (1, 2)
    char_ngrams: tuple[int, int] = (2, 5)
    sublinear_tf: bool = True
    min_df: int = 1
    calibration_folds: int = 5

    def as_dict(self) -> dict[str, object]:
        return asdict(self)


def build_pipeline(options: ModelOptions, min_class_count: int) -> Pipeline:
    """TF-IDF (word + char_wb n-grams) -> LinearSVC, with sigmoid calibration.

    Calibration turns SVM margins into per-class probabilities that sum to one;
    it needs at least two examples of each class per fold.
    """
    features = FeatureUnion(
        [
            (
                "word",
                TfidfVectorizer(
                    analyzer="word",
                    ngram_range=options.word_ngrams,
                    lowercase=True,
                    sublinear_tf=options.sublinear_tf,
                    min_df=options.min_df,
                    dtype=np.float64,
                ),
            ),
            (
                "char",
                TfidfVectorizer(
                    analyzer="char_wb",
                    ngram_range=options.char_ngrams,
                    lowercase=True,
                    sublinear_tf=options.sublinear_tf,
                    min_df=options.min_df,
                    dtype=np.float64,
                ),
            ),
        ]
    )
    svm = LinearSVC(C=options.C, random_state=SEED)
    folds = max(2, min(options.calibration_folds, min_class_count))
    classifier = CalibratedClassifierCV(svm, method="sigmoid", cv=folds, ensemble=False)
    return Pipeline([("features", features), ("clf", classifier)])
