"""The scikit-learn backend: a fitted pipeline saved with joblib.

The pipeline file is unpickled only after its SHA-256 matches the manifest, so
only models produced by our own training build are ever loaded.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import joblib
import numpy as np
import sklearn

from textclf.errors import ModelLoadError
from textclf.manifest import Manifest, score_kind, verify_files
from textclf.model import ScoreMatrixPredictor
from textclf.settings import SklearnVersionPolicy

logger = logging.getLogger(__name__)


def check_sklearn_version(manifest: Manifest, policy: SklearnVersionPolicy) -> None:
    """Warn about (or refuse) a model trained with a different scikit-learn."""
    trained = (manifest.libraries or {}).get("scikit-learn")
    if trained is None or trained == sklearn.__version__:
        return
    message = (
        f"model {manifest.version} was trained with scikit-learn {trained}, "
        f"this runtime has {sklearn.__version__}: predictions may differ; retrain to match"
    )
    if policy == "refuse":
        raise ModelLoadError(message + " (scikit-learn version policy: refuse)")
    logger.warning(message)


class JoblibPredictor(ScoreMatrixPredictor):
    """Serves a scikit-learn pipeline with ``predict_proba`` or ``decision_function``."""

    backend = "joblib"

    def __init__(self, pipeline: Any, manifest: Manifest) -> None:
        super().__init__(manifest, tuple(str(c) for c in pipeline.classes_))
        self._pipeline = pipeline
        # probabilities when the pipeline has them, unless the manifest says it serves decisions
        self._proba = score_kind(pipeline) == "probability" and manifest.score_kind != "decision"

    @property
    def pipeline(self) -> Any:
        """The verified scikit-learn pipeline (training's ``evaluate`` scores with it)."""
        return self._pipeline

    def score_matrix(self, texts: Sequence[str]) -> np.ndarray:
        """An (n_texts, n_classes) array of scores, columns in ``classes`` order."""
        if self._proba:
            return np.asarray(self._pipeline.predict_proba(list(texts)), dtype=np.float64)
        raw = np.asarray(self._pipeline.decision_function(list(texts)), dtype=np.float64)
        if raw.ndim == 1:  # binary: one margin for the positive class
            raw = np.column_stack([-raw, raw])
        return raw


def load(
    model_dir: Path, manifest: Manifest, sklearn_version_policy: SklearnVersionPolicy = "warn"
) -> JoblibPredictor:
    """Verify and load ``model.joblib`` from ``model_dir``.

    ``sklearn_version_policy``: ``warn`` (log and load) or ``refuse`` (raise
    :class:`ModelLoadError`) when the model was trained with another scikit-learn.
    """
    entry = manifest.backends.joblib
    if entry is None:
        raise ModelLoadError(f"model in {model_dir} has no 'joblib' backend")
    name = entry.file
    verify_files(model_dir, manifest, [name])
    check_sklearn_version(manifest, sklearn_version_policy)
    try:
        pipeline = joblib.load(model_dir / name)
    except Exception as exc:  # a verified file that still fails: incompatible libraries
        raise ModelLoadError(f"cannot load {model_dir / name}: {type(exc).__name__}: {exc}") from exc
    return JoblibPredictor(pipeline, manifest)
