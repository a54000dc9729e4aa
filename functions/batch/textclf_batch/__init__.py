"""S3 batch scoring: a CSV / JSON Lines object in, the same rows with predictions out.

The Lambda handler (:mod:`textclf_batch.main`) only parses the S3 event and calls
:func:`process_object`; everything else lives here so it can be tested and reused
without Lambda.
"""

from textclf_batch.errors import BatchProcessingError, UnreadableFileError
from textclf_batch.process import (
    BatchSummary,
    FileError,
    InputFile,
    OutputKeys,
    ReaderSettings,
    RowCounts,
    S3Input,
    output_keys,
    process_object,
)

__all__ = [
    "BatchProcessingError",
    "BatchSummary",
    "FileError",
    "InputFile",
    "OutputKeys",
    "ReaderSettings",
    "RowCounts",
    "S3Input",
    "UnreadableFileError",
    "output_keys",
    "process_object",
]
