"""The CSV reader the batch function had before issue 12, kept only to benchmark against.

``bench/batch.py --reader old`` runs the real handler with this reader swapped in, so
the S3 path's throughput can be compared with the current reader in the same run.
Copied unchanged from ``textclf/batch/formats.py`` and ``streams.py`` at commit 7139f34
(now ``functions/batch/textclf_batch/``)
(it splits on LF only, decodes UTF-8 line by line and lets csv.reader join lines); only its
``encode`` follows the current :class:`Scores`.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator, Sequence
from typing import Any

from textclf_batch.errors import UnreadableFileError
from textclf_batch.formats import (
    BROKEN_CSV,
    LINE_TOO_LONG,
    SCORE_DIGITS,
    UNDECODABLE,
    WRONG_FIELD_COUNT,
    Blank,
    FormatName,
    Record,
    Rejected,
    Row,
    Scores,
    _output_names,
    check_text,
)
from textclf_batch.streams import BLOCK, BOM


def _bad_utf8(line: int, exc: UnicodeDecodeError) -> tuple[str, str]:
    return UNDECODABLE, f"line {line} is not valid UTF-8 (byte 0x{exc.object[exc.start]:02x} at {exc.start})"


def physical_lines(stream: io.BufferedReader, max_line_bytes: int) -> Iterator[bytes | None]:
    """Each line of ``stream`` (with its newline), the BOM removed from the first.

    A line longer than ``max_line_bytes`` is skipped without ever being held in
    memory and yields ``None`` in its place, so line numbers stay right.
    """
    first = True
    while True:
        line = stream.readline(max_line_bytes + 1)
        if not line:
            return
        if first:
            first = False
            if line.startswith(BOM):
                line = line[len(BOM) :]
        if len(line) > max_line_bytes and not line.endswith(b"\n"):
            while True:  # discard the rest of the over-long line
                rest = stream.readline(BLOCK)
                if not rest or rest.endswith(b"\n"):
                    break
            yield None
            continue
        yield line


class OldCsvFormat:
    """CSV with a header row; quoted fields may span lines. Other columns pass through."""

    name: FormatName = "csv"
    content_type = "text/csv; charset=utf-8"

    def __init__(self, text_column: str, max_text_chars: int, max_line_bytes: int) -> None:
        self._text_column = text_column
        self._max_chars = max_text_chars
        self._max_line_bytes = max_line_bytes
        self._columns: list[str] = []
        self._out_columns: list[str] = []
        self._text_index = 0
        # A runaway quote must not swallow the rest of the file into memory: cap any field.
        csv.field_size_limit(max(max_line_bytes, max_text_chars * 4))

    def records(self, lines: Iterator[bytes | None]) -> Iterator[Record]:
        bad: dict[int, tuple[str, str]] = {}

        def decoded() -> Iterator[str]:
            for number, raw in enumerate(lines, start=1):
                if raw is None:
                    bad[number] = (
                        LINE_TOO_LONG,
                        f"line {number} is longer than {self._max_line_bytes} bytes",
                    )
                    yield "\n"
                    continue
                try:
                    yield raw.decode("utf-8")
                except UnicodeDecodeError as exc:
                    bad[number] = _bad_utf8(number, exc)
                    yield raw.decode("utf-8", "surrogateescape")

        reader = csv.reader(decoded(), strict=True)
        self._read_header(reader, bad)
        return self._rows(reader, bad)

    def _read_header(self, reader: Any, bad: dict[int, tuple[str, str]]) -> None:
        while True:
            try:
                header: list[str] = next(reader)
            except StopIteration:
                raise UnreadableFileError("empty_file", "the file has no header row (it is empty)") from None
            except csv.Error as exc:
                raise UnreadableFileError("wrong_format", f"the header row is not valid CSV: {exc}") from None
            if bad:
                reason, detail = bad[min(bad)]
                raise UnreadableFileError("wrong_format", f"cannot read the header row: {detail}")
            if header:
                break
        if self._text_column not in header:
            shown = ", ".join(repr(c) for c in header[:20])
            raise UnreadableFileError(
                "missing_text_column",
                f"no {self._text_column!r} column in the header (columns: {shown}); "
                "set TEXT_COLUMN to the column holding the text",
            )
        self._columns = header
        self._text_index = header.index(self._text_column)
        self._out_columns = _output_names(header, ["label", "score"])

    def _rows(self, reader: Any, bad: dict[int, tuple[str, str]]) -> Iterator[Record]:
        width = len(self._columns)
        end = reader.line_num
        while True:
            start = end + 1
            try:
                fields: list[str] = next(reader)
            except StopIteration:
                return
            except csv.Error as exc:
                end = reader.line_num
                for number in range(start, end + 1):
                    bad.pop(number, None)
                yield Rejected(start, max(start, end), BROKEN_CSV, f"CSV error: {exc}")
                continue
            end = reader.line_num
            problem = None
            if bad:
                for number in range(start, end + 1):
                    found = bad.pop(number, None)
                    problem = problem or found
            if problem is not None:
                yield Rejected(start, end, *problem)
            elif not fields:
                yield Blank(start)
            elif len(fields) != width:
                yield Rejected(
                    start,
                    end,
                    WRONG_FIELD_COUNT,
                    f"expected {width} fields (as the header), found {len(fields)}",
                )
            elif (text_problem := check_text(fields[self._text_index], self._max_chars)) is not None:
                yield Rejected(start, end, *text_problem)
            else:
                yield Row(start, end, fields[self._text_index], fields)

    def header(self) -> bytes:
        buffer = io.StringIO()
        csv.writer(buffer).writerow([*self._columns, *self._out_columns])
        return buffer.getvalue().encode("utf-8")

    def encode(self, rows: Sequence[Row], scores: Scores, classes: Sequence[str]) -> bytes:
        labels, top = scores.top(classes)  # scores as they are now: the reader is what is compared
        buffer = io.StringIO()
        writer = csv.writer(buffer)
        writer.writerows(
            [*row.data, label, repr(round(score, SCORE_DIGITS))]
            for row, label, score in zip(rows, labels, top, strict=True)
        )
        return buffer.getvalue().encode("utf-8")
