"""Exception types raised by the inference package.

Each error is raised where the problem is detected; the API maps them to RFC 9457
problem responses in one place (the API function's ``textclf_api``), the batch function to report
rows or an error summary.
"""

from __future__ import annotations

from pathlib import Path


class TextClfError(Exception):
    """Base class of every error this package raises on purpose."""


class ModelLoadError(TextClfError):
    """The model folder is missing, incomplete, tampered with or incompatible."""


class ManifestError(ModelLoadError):
    """``manifest.json`` is missing or malformed."""


class ModelMissingError(ManifestError):
    """No model where one was expected: the folder, or its ``manifest.json``, does not exist.

    The message states only that fact (``no model at DIR: WHAT``), because what to do depends on
    who asked: serving reads ``MODEL_DIR``, training's commands take a folder option. The caller
    adds its advice with :meth:`with_hint`; ``model_dir`` and ``what`` are kept for it.
    """

    def __init__(self, model_dir: Path, what: str, hint: str = "") -> None:
        self.model_dir = model_dir
        self.what = what
        self.hint = hint
        super().__init__(f"no model at {model_dir}: {what}" + (f" ({hint})" if hint else ""))

    def __reduce__(self) -> tuple[type[ModelMissingError], tuple[Path, str, str]]:
        # pickled (across processes) with its own arguments, not the message
        return type(self), (self.model_dir, self.what, self.hint)

    def with_hint(self, hint: str) -> ModelMissingError:
        """The same error, with ``hint`` (what to do, in the caller's terms) in parentheses."""
        return type(self)(self.model_dir, self.what, hint)


class IntegrityError(ModelLoadError):
    """A model file's SHA-256 does not match the manifest."""


class BackendUnavailableError(ModelLoadError):
    """A backend cannot serve this (intact) model here, e.g. a newer artefact format.

    ``load_predictor(..., "auto")`` then tries the next backend; a tampered file is
    an :class:`IntegrityError` instead and stops loading altogether.
    """


class InputError(TextClfError):
    """The caller sent something we cannot score."""
