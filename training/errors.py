"""Errors raised by training; the CLI prints them as one line and exits non-zero."""


class TrainingError(Exception):
    """A problem with the data or options, explained in one line."""


class DataError(TrainingError):
    """The data file cannot be used as it is."""


class QualityGateError(TrainingError):
    """The new model scores below the configured minimum; nothing was written."""
