"""S3 batch scoring: a CSV / JSON Lines object in, the same rows with predictions out.

The Lambda handler (:mod:`textclf_batch.main`) only parses the S3 event and calls
:func:`process_object`; everything else lives here so it can be tested and reused
without Lambda.

The public API (what ``textclf_fanout`` builds on; names without a leading underscore, each
documented where it is defined): :func:`process_object` (a whole object), :class:`ObjectRun`
(one run's version check, counts and publishing rule), :func:`score_records` and
:class:`Tally` (the chunk-scoring loop both paths run), :func:`failure_line` /
:func:`json_line` (errors-file lines), :func:`client_error_code`, the summary types, the
readers in :mod:`textclf_batch.formats`, the streams in :mod:`textclf_batch.streams` and the
writer :class:`textclf_batch.s3io.S3Upload`.
"""

from textclf_batch.errors import BatchProcessingError, UnreadableFileError
from textclf_batch.process import (
    TIME_MARGIN_SECONDS,
    BatchSummary,
    FileError,
    InputFile,
    ObjectRun,
    OutputKeys,
    ReaderSettings,
    RowCounts,
    S3Input,
    client_error_code,
    failure_line,
    output_keys,
    process_object,
)
from textclf_batch.scoring import Tally, json_line, score_records

__all__ = [
    "TIME_MARGIN_SECONDS",
    "BatchProcessingError",
    "BatchSummary",
    "FileError",
    "InputFile",
    "ObjectRun",
    "OutputKeys",
    "ReaderSettings",
    "RowCounts",
    "S3Input",
    "Tally",
    "UnreadableFileError",
    "client_error_code",
    "failure_line",
    "json_line",
    "output_keys",
    "process_object",
    "score_records",
]
