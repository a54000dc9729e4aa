"""Exception types raised by the inference package.

Each error is raised where the problem is detected; the API maps them to RFC 9457
problem responses in one place (the API function's ``textclf_api``), the batch function to report
rows or an error summary.
"""

from __future__ import annotations


class TextClfError(Exception):
    """Base class of every error this package raises on purpose."""


class ModelLoadError(TextClfError):
    """The model folder is missing, incomplete, tampered with or incompatible."""


class ManifestError(ModelLoadError):
    """``manifest.json`` is missing or malformed."""


class IntegrityError(ModelLoadError):
    """A model file's SHA-256 does not match the manifest."""


class BackendUnavailableError(ModelLoadError):
    """A backend cannot serve this (intact) model here, e.g. a newer artefact format.

    ``load_predictor(..., "auto")`` then tries the next backend; a tampered file is
    an :class:`IntegrityError` instead and stops loading altogether.
    """


class InputError(TextClfError):
    """The caller sent something we cannot score."""
