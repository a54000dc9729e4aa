"""Errors of S3 batch scoring: a whole file we cannot read, or a run that could not finish."""

from __future__ import annotations

from textclf.errors import InputError, TextClfError


class UnreadableFileError(InputError):
    """The object cannot be read as a table of texts at all (no row can be trusted).

    ``reason`` is a short machine-readable code (``empty_file``, ``corrupt_gzip``,
    ``wrong_format``, ``missing_text_column``, ...), ``message`` says it for people.
    """

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message


class BatchProcessingError(TextClfError):
    """Scoring an object failed part-way (an S3 error, a worker crash, the time limit).

    Nothing partial is left visible: the multipart uploads are aborted and the
    summary says ``failed``; the invocation fails so Lambda retries it.
    """

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message
