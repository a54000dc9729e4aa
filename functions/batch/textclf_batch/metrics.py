"""The batch function's CloudWatch metrics: one EMF line per file, plus one per rejection reason.

Names and units are those of :data:`textclf.metrics.UNITS` (one namespace for both functions);
:func:`textclf.metrics.emit` writes the lines.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from textclf.metrics import emit


def emit_batch_file(summary: Mapping[str, Any]) -> None:
    """The metric lines of one file, from its summary document: ``ok`` and ``failed`` files only
    (a ``skipped`` or ``superseded`` event wrote nothing). A run that raised (a transient error
    Lambda retries) has no line: the Lambda Errors and failure-queue alarms cover it."""
    if summary.get("status") not in ("ok", "failed"):
        return
    rows = summary.get("rows") or {}
    failed = summary.get("status") != "ok"
    emit(
        {
            "RowsRead": rows.get("read", 0),
            "RowsScored": rows.get("scored", 0),
            "RowsRejected": rows.get("rejected", 0),
            "FileDuration": summary.get("duration_seconds", 0.0),
            ("FilesFailed" if failed else "FilesScored"): 1,
        }
    )
    for reason, count in sorted((summary.get("rejected_by_reason") or {}).items()):
        emit({"RowsRejected": count}, ("reason", str(reason)))
