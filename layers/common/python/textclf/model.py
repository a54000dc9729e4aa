"""Loading a model behind one small interface: texts in, labels and scores out.

Handlers only ever see :class:`Predictor`; which backend serves it (the
scikit-learn pipeline via joblib, or a lean artefact) is decided here from the
manifest, so a backend can be added without touching a handler.
"""

from __future__ import annotations

import importlib
import logging
from collections.abc import Sequence
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Protocol, TypedDict

from textclf.errors import BackendUnavailableError, ModelLoadError, ModelMissingError
from textclf.manifest import Manifest, read_manifest
from textclf.settings import Settings, SklearnVersionPolicy

if TYPE_CHECKING:  # NumPy is the backends' import; this module needs it only for annotations
    import numpy as np
    import numpy.typing as npt

logger = logging.getLogger(__name__)
# what to do when the model folder serving reads (``MODEL_DIR``) holds no model
SERVING_HINT = "train one with `python -m training train` or set MODEL_DIR"


class Prediction(TypedDict):
    """One scored text: the winning label and a score per class."""

    label: str
    scores: dict[str, float]


class Predictor(Protocol):
    """What every backend offers to the handlers."""

    @property
    def version(self) -> str: ...

    @property
    def classes(self) -> tuple[str, ...]: ...

    @property
    def manifest(self) -> Manifest: ...

    @property
    def backend(self) -> str: ...

    def predict(self, texts: Sequence[str]) -> list[Prediction]:
        """Score texts; one :class:`Prediction` per text, in order."""
        ...

    def score_matrix(self, texts: Sequence[str]) -> npt.NDArray[np.float64]:
        """The scores of ``texts`` as one NumPy array of shape (n_texts, n_classes), columns in
        ``classes`` order: what :meth:`predict` reads its labels and scores from (the first
        highest score wins), for callers that keep scores as a matrix (S3 batch scoring)."""
        ...


class ScoreMatrixPredictor:
    """Shared base of the backends: each computes an (n_texts, n_classes) score matrix.

    Subclasses set ``backend`` and implement ``score_matrix``; the manifest-derived
    properties and turning a score matrix into :class:`Prediction` rows live here once.
    """

    backend: ClassVar[str]  # the manifest's name for it: "joblib", "lean"

    def __init__(self, manifest: Manifest, classes: tuple[str, ...]) -> None:
        self._manifest = manifest
        self._classes = classes

    @property
    def version(self) -> str:
        return self._manifest.version

    @property
    def classes(self) -> tuple[str, ...]:
        return self._classes

    @property
    def manifest(self) -> Manifest:
        return self._manifest

    def score_matrix(self, texts: Sequence[str]) -> Any:
        """An (n_texts, n_classes) NumPy array of scores, columns in ``classes`` order."""
        raise NotImplementedError

    def predict(self, texts: Sequence[str]) -> list[Prediction]:
        if not texts:
            return []
        scores = self.score_matrix(texts)
        best = scores.argmax(axis=1)
        classes = self._classes
        return [
            {"label": classes[i], "scores": dict(zip(classes, row, strict=True))}
            for i, row in zip(best.tolist(), scores.tolist(), strict=True)
        ]


class Backend(Protocol):
    """A way to turn a model folder into a :class:`Predictor`."""

    def __call__(self, model_dir: Path, manifest: Manifest) -> Predictor: ...


# name in the manifest's backends -> "module:attribute" of its loader; imported lazily so
# that a lean deployment never imports scikit-learn.
BACKENDS: dict[str, str] = {
    "lean": "textclf.backends.lean:load",
    "joblib": "textclf.backends.joblib_backend:load",
}
PREFERENCE = ("lean", "joblib")


def _backend(name: str) -> Backend:
    module_name, _, attr = BACKENDS[name].partition(":")
    loader: Backend = getattr(importlib.import_module(module_name), attr)
    return loader


def _load(name: str, model_dir: Path, manifest: Manifest, policy: SklearnVersionPolicy) -> Predictor:
    if name == "joblib":  # the one backend with a policy: a model pickled by another scikit-learn
        from textclf.backends.joblib_backend import load

        return load(model_dir, manifest, sklearn_version_policy=policy)
    return _backend(name)(model_dir, manifest)


def load_predictor(
    model_dir: Path, backend: str = "auto", *, sklearn_version_policy: SklearnVersionPolicy = "warn"
) -> Predictor:
    """Load the model in ``model_dir`` with the best backend it supports.

    ``backend="auto"`` prefers the lean artefact and falls back to joblib when the
    model has none, or the lean one cannot run here (its module or its format is
    unavailable); a named backend is used or fails. A file that fails its integrity
    check stops loading: no fallback serves a tampered model folder.
    ``sklearn_version_policy`` says what the joblib backend does with a model trained by
    another scikit-learn version (``warn`` and load, or ``refuse``). Nothing here reads
    the environment: a handler passes its :class:`~textclf.settings.Settings` values.
    """
    manifest = read_manifest(model_dir)
    listed = manifest.backends.names()
    available = [name for name in PREFERENCE if name in listed]
    if backend != "auto":
        if backend not in listed or backend not in BACKENDS:
            raise ModelLoadError(f"model in {model_dir} has no {backend!r} backend")
        return _load(backend, model_dir, manifest, sklearn_version_policy)
    if not available:
        raise ModelLoadError(f"model in {model_dir} lists no backend this runtime knows")
    errors: list[str] = []
    for name in available:
        try:
            return _load(name, model_dir, manifest, sklearn_version_policy)
        except ImportError as exc:
            hint = ""
            if name == "joblib":
                hint = " (attach the scikit-learn layer: deploy with ModelBackend=joblib)"
            errors.append(f"{name} backend needs {exc.name or exc}{hint}")
            logger.warning("model backend %s unavailable (%s); trying the next one", name, exc)
        except BackendUnavailableError as exc:
            errors.append(f"{name} backend: {exc}")
            logger.warning("model backend %s unavailable (%s); trying the next one", name, exc)
    raise ModelLoadError(f"no backend could load {model_dir}: {'; '.join(errors)}")


@cache
def get_predictor(settings: Settings) -> Predictor:
    """The process-wide predictor for these settings, loaded once (at import time of a handler).

    The handler reads :class:`Settings` once and passes them: model folder, backend and
    scikit-learn version policy come from them, not from the environment.
    """
    try:
        predictor = load_predictor(
            settings.model_dir, settings.model_backend, sklearn_version_policy=settings.sklearn_version_policy
        )
    except ModelMissingError as exc:  # the core states the fact; what to do here is serving's to say
        raise exc.with_hint(SERVING_HINT) from None
    logger.info(
        "model loaded",
        extra={"model_version": predictor.version, "backend": predictor.backend},
    )
    return predictor
