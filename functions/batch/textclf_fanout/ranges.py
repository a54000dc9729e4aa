"""Reading one byte range of an object as the whole file would read it (pure: no S3).

A range other than the first is read with a few bytes in front so that the batch reader
(:mod:`textclf_batch.formats`) parses it exactly as it parses that part of the whole file:

- CSV: the file's header bytes (with a ``sep=`` line and a BOM, if it has them), so the
  delimiter, the columns and the text column are the same;
- JSON Lines: the line ``{}``, a JSON object, so the reader's checks of a file's *first* line
  (is this JSON Lines at all?) pass, and rows are read as later rows are; that record is dropped.

Line numbers come out relative to the range (its first line is line 1); the merge adds the
lines of the ranges before (:func:`count_lines` of each) and the rows they read.
"""

from __future__ import annotations

import io
import re
from collections.abc import Iterator
from typing import Any, Final

from textclf_batch.formats import Blank, FormatName, Record, Rejected, TableFormat
from textclf_batch.streams import Readable

JSONL_PREFIX: Final = b"{}\n"


def count_lines(data: bytes) -> int:
    """Physical lines in ``data`` as the batch reader counts them (LF, CRLF or CR alone end one;
    a last line without a line end counts too)."""
    ends = data.count(b"\n") + data.count(b"\r") - data.count(b"\r\n")
    return ends + (1 if data and not data.endswith((b"\n", b"\r")) else 0)


class LineCounter:
    """Counts the physical lines of a byte stream as it is read (a CRLF cut between two reads
    counts once)."""

    def __init__(self, source: Readable) -> None:
        self._source = source
        self.lines = 0
        self._last = b""

    def read(self, amt: int | None = None, /) -> bytes:
        data = self._source.read(amt)
        if data:
            self.lines += data.count(b"\n") + data.count(b"\r") - data.count(b"\r\n")
            if self._last == b"\r" and data[:1] == b"\n":
                self.lines -= 1
            self._last = data[-1:]
        return data

    def total(self) -> int:
        """All lines read, counting a last line that has no line end."""
        return self.lines + (1 if self._last not in (b"", b"\n", b"\r") else 0)


def prefix_for(kind: FormatName, index: int, header: bytes) -> bytes:
    """The bytes read in front of range ``index`` (none for the first)."""
    if index == 0:
        return b""
    if kind == "jsonl":
        return JSONL_PREFIX
    # a header ending in CR alone, before a range starting with LF, would read as one CRLF
    return header + b"\n" if header.endswith(b"\r") else header


def range_records(
    fmt: TableFormat, text: io.TextIOWrapper, kind: FormatName, prefix: bytes
) -> Iterator[Record]:
    """The records of a range, line numbers relative to it; reads the header before returning."""
    records = fmt.records(text)
    shift = count_lines(prefix)
    if kind == "jsonl" and prefix:
        next(records)  # the `{}` put in front
    return _shifted(records, shift)


def _shifted(records: Iterator[Record], shift: int) -> Iterator[Record]:
    if not shift:
        yield from records
        return
    for record in records:
        record.line -= shift
        if not isinstance(record, Blank):
            record.end_line -= shift
        if isinstance(record, Rejected):
            record.detail = renumber(record.detail, -shift)
        yield record


_LINE_REF: Final = re.compile(r"\b(lines? )(\d+)(?:-(\d+))?")


def renumber(detail: str, delta: int) -> str:
    """``detail`` with the line numbers it names ("line 7", "lines 7-9") moved by ``delta``."""
    return _LINE_REF.sub(
        lambda m: (
            m.group(1) + str(int(m.group(2)) + delta) + (f"-{int(m.group(3)) + delta}" if m.group(3) else "")
        ),
        detail,
    )


def shift_error(error: dict[str, Any], lines: int, rows: int) -> dict[str, Any]:
    """One errors-file entry of a range, renumbered for the whole file.

    ``line``/``end_line`` move by the ``lines`` of the ranges before, ``row`` by the ``rows``
    they read, and so do the line numbers the detail names ("line 7", "lines 7-9": the batch
    reader's details hold numbers and limits, never the user's text). Keys keep their order.
    """
    out = dict(error)
    if lines:
        if isinstance(out.get("line"), int):
            out["line"] += lines
        if isinstance(out.get("end_line"), int):
            out["end_line"] += lines
        if isinstance(out.get("detail"), str):
            out["detail"] = renumber(out["detail"], lines)
    if rows and isinstance(out.get("row"), int):
        out["row"] += rows
    return out
