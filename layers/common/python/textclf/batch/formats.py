"""Input formats behind one small interface: CSV with a header, and JSON Lines.

A format turns physical lines into records (a :class:`Row` to score or a
:class:`Rejected` with its reason) and turns scored rows back into output bytes in
the same format. Every record carries the line numbers it came from, so a
rejected row can be found in the input.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Final, Literal, Protocol

from textclf.batch.errors import UnreadableFileError

FormatName = Literal["csv", "jsonl"]
SUFFIXES: Final[dict[str, tuple[FormatName, bool]]] = {
    ".csv": ("csv", False),
    ".csv.gz": ("csv", True),
    ".jsonl": ("jsonl", False),
    ".jsonl.gz": ("jsonl", True),
}
SCORE_DIGITS = 6

# Reasons a row is rejected (the `reason` field of each line of <key>.errors.jsonl).
MISSING_TEXT = "missing_text"
EMPTY_TEXT = "empty_text"
TEXT_NOT_A_STRING = "text_not_a_string"
TEXT_TOO_LONG = "text_too_long"
LINE_TOO_LONG = "line_too_long"
UNDECODABLE = "undecodable_bytes"
BROKEN_CSV = "broken_csv_quoting"
WRONG_FIELD_COUNT = "wrong_field_count"
INVALID_JSON = "invalid_json"
NOT_AN_OBJECT = "not_an_object"


@dataclass(slots=True)
class Row:
    """A record with a valid text, to be scored; ``data`` is the original fields."""

    line: int
    end_line: int
    text: str
    data: Any


@dataclass(slots=True)
class Rejected:
    """A record that cannot be scored, and why (never the text itself)."""

    line: int
    end_line: int
    reason: str
    detail: str

    def as_json(self, row: int) -> dict[str, Any]:
        """One line of the errors file: where the row is, and why it was rejected."""
        out: dict[str, Any] = {"line": self.line}
        if self.end_line != self.line:
            out["end_line"] = self.end_line
        out["row"] = row
        out["reason"] = self.reason
        out["detail"] = self.detail
        return out


@dataclass(slots=True)
class Blank:
    """A line with nothing on it: not a row, only counted."""

    line: int


Record = Row | Rejected | Blank


@dataclass(frozen=True, slots=True)
class Scores:
    """Scores of a chunk of rows, in row order; ``per_class`` columns follow ``classes``."""

    labels: list[str]
    scores: list[float]
    per_class: list[list[float]]


class TableFormat(Protocol):
    """One input/output format. ``records`` reads the header (if any) before returning."""

    name: FormatName
    content_type: str

    def records(self, lines: Iterator[bytes | None]) -> Iterator[Record]: ...

    def header(self) -> bytes:
        """Bytes that start the output file (the CSV header line; nothing for JSONL)."""
        ...

    def encode(self, rows: Sequence[Row], scores: Scores, classes: Sequence[str]) -> bytes: ...


def format_for_key(key: str) -> tuple[FormatName, bool]:
    """(format, gzip-compressed) from the key's suffix, or :class:`UnreadableFileError`."""
    lowered = key.lower()
    for suffix in sorted(SUFFIXES, key=len, reverse=True):
        if lowered.endswith(suffix):
            return SUFFIXES[suffix]
    raise UnreadableFileError(
        "unsupported_file_type", f"unsupported file type: the key must end in {', '.join(SUFFIXES)}"
    )


def check_text(value: object, max_chars: int) -> tuple[str, str] | None:
    """(reason, detail) when ``value`` cannot be scored, else None."""
    if value is None:
        return MISSING_TEXT, "no text"
    if not isinstance(value, str):
        return TEXT_NOT_A_STRING, f"text is a JSON {type(value).__name__}, not a string"
    if not value.strip():
        return EMPTY_TEXT, "text is empty or only whitespace"
    if len(value) > max_chars:
        return TEXT_TOO_LONG, f"text has {len(value)} characters; the limit is {max_chars}"
    return None


def _bad_utf8(line: int, exc: UnicodeDecodeError) -> tuple[str, str]:
    return UNDECODABLE, f"line {line} is not valid UTF-8 (byte 0x{exc.object[exc.start]:02x} at {exc.start})"


def _output_names(existing: Sequence[str], wanted: Sequence[str]) -> list[str]:
    """Names for the added columns; all get a ``predicted_`` prefix if any clashes with the input's."""
    taken = set(existing)
    names = list(wanted)
    while taken.intersection(names):
        names = [f"predicted_{name}" for name in names]
    return names


class CsvFormat:
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
        buffer = io.StringIO()
        writer = csv.writer(buffer)
        writer.writerows(
            [*row.data, label, repr(round(score, SCORE_DIGITS))]
            for row, label, score in zip(rows, scores.labels, scores.scores, strict=True)
        )
        return buffer.getvalue().encode("utf-8")


class JsonLinesFormat:
    """One JSON object per line with a text field; other fields pass through."""

    name: FormatName = "jsonl"
    content_type = "application/x-ndjson"

    def __init__(self, text_field: str, max_text_chars: int, max_line_bytes: int) -> None:
        self._text_field = text_field
        self._max_chars = max_text_chars
        self._max_line_bytes = max_line_bytes
        self._decoder = json.JSONDecoder()

    def records(self, lines: Iterator[bytes | None]) -> Iterator[Record]:
        numbered = enumerate(lines, start=1)
        blanks: list[Record] = []
        for number, raw in numbered:
            record = self._record(number, raw)
            if isinstance(record, Blank):
                blanks.append(record)
                continue
            if isinstance(record, Rejected) and record.reason in (UNDECODABLE, INVALID_JSON, NOT_AN_OBJECT):
                raise UnreadableFileError(
                    "wrong_format", f"not JSON Lines: line {number} is not a JSON object ({record.detail})"
                )
            return self._rest([*blanks, record], numbered)
        raise UnreadableFileError("empty_file", "the file has no JSON lines (it is empty)")

    def _rest(self, first: list[Record], numbered: Iterator[tuple[int, bytes | None]]) -> Iterator[Record]:
        yield from first
        for number, raw in numbered:
            yield self._record(number, raw)

    def _record(self, number: int, raw: bytes | None) -> Record:
        if raw is None:
            return Rejected(
                number, number, LINE_TOO_LONG, f"line is longer than {self._max_line_bytes} bytes"
            )
        try:
            line = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            return Rejected(number, number, *_bad_utf8(number, exc))
        if not line.strip():
            return Blank(number)
        try:
            data = json.loads(line)
        except json.JSONDecodeError as exc:
            return Rejected(number, number, INVALID_JSON, f"invalid JSON: {exc.msg} at column {exc.colno}")
        if not isinstance(data, dict):
            return Rejected(number, number, NOT_AN_OBJECT, f"a JSON {type(data).__name__}, not an object")
        if "\\ud" in line.lower():  # JSON escapes can smuggle in lone surrogates, which UTF-8 cannot hold
            try:
                json.dumps(data, ensure_ascii=False).encode("utf-8")
            except UnicodeEncodeError:
                return Rejected(number, number, UNDECODABLE, "a \\u escape encodes a lone surrogate")
        problem = check_text(data.get(self._text_field), self._max_chars)
        if problem is not None:
            return Rejected(number, number, *problem)
        return Row(number, number, data[self._text_field], data)

    def header(self) -> bytes:
        return b""

    def encode(self, rows: Sequence[Row], scores: Scores, classes: Sequence[str]) -> bytes:
        out = []
        for row, label, score, per_class in zip(
            rows, scores.labels, scores.scores, scores.per_class, strict=True
        ):
            data: dict[str, Any] = row.data
            names = _output_names(list(data), ["label", "score", "scores"])
            result = {
                **data,
                names[0]: label,
                names[1]: round(score, SCORE_DIGITS),
                names[2]: {c: round(s, SCORE_DIGITS) for c, s in zip(classes, per_class, strict=True)},
            }
            out.append(json.dumps(result, ensure_ascii=False, separators=(",", ":")))
            out.append("\n")
        return "".join(out).encode("utf-8")


def make_format(name: FormatName, text_column: str, max_text_chars: int, max_line_bytes: int) -> TableFormat:
    if name == "csv":
        return CsvFormat(text_column, max_text_chars, max_line_bytes)
    return JsonLinesFormat(text_column, max_text_chars, max_line_bytes)
