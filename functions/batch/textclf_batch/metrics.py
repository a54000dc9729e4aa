"""The batch function's CloudWatch metrics: one EMF line per file, plus one per rejection reason.

Names and units are those of :data:`textclf.metrics.UNITS` (one namespace for both functions);
:func:`textclf.metrics.emit` writes the lines.
"""

from __future__ import annotations

from textclf.metrics import emit
from textclf_batch.process import BatchSummary


def emit_batch_file(summary: BatchSummary) -> None:
    """The metric lines of one file, from its summary: ``ok`` and ``failed`` files only
    (a ``skipped`` or ``superseded`` event wrote nothing). A run that raised (a transient error
    Lambda retries) has no line: the Lambda Errors and failure-queue alarms cover it."""
    if summary.status not in ("ok", "failed"):
        return
    rows = summary.rows
    emit(
        {
            "RowsRead": rows.read,
            "RowsScored": rows.scored,
            "RowsRejected": rows.rejected,
            "FileDuration": summary.duration_seconds,
            ("FilesScored" if summary.status == "ok" else "FilesFailed"): 1,
        }
    )
    for reason, count in sorted(summary.rejected_by_reason.items()):
        emit({"RowsRejected": count}, ("reason", reason))
