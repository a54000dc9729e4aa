"""Input formats behind one small interface: CSV with a header, and JSON Lines.

A format turns physical lines into records (a :class:`Row` to score or a
:class:`Rejected` with its reason) and turns scored rows back into output bytes in
the same format. Every record carries the line numbers it came from, so a
rejected row can be found in the input.
"""

from __future__ import annotations

import csv
import io
import itertools
import json
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Final, Literal, Protocol

import numpy as np
import numpy.typing as npt

from textclf.schemas import is_blank
from textclf_batch.errors import UnreadableFileError
from textclf_batch.streams import physical_lines

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
RECORD_TOO_LONG = "record_too_long"
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


@dataclass(frozen=True, slots=True, eq=False)
class Scores:
    """The scores of a chunk of rows as the predictor computed them: ``matrix`` has shape
    (n_rows, n_classes), rows in row order, columns in ``classes`` order.

    It stays one NumPy array from the predictor to the writer (and through the worker pipes,
    where an array is a header and its raw bytes); Python numbers are made only for the
    values a format writes. A row's label is the class of its first highest score, the one
    :meth:`textclf.model.Predictor.predict` picks.
    """

    matrix: npt.NDArray[np.float64]

    def __eq__(self, other: object) -> bool:  # the same scores: same shape, same values
        return isinstance(other, Scores) and bool(np.array_equal(self.matrix, other.matrix))

    __hash__ = None  # type: ignore[assignment]  # mutable contents

    def best(self) -> list[int]:
        """Each row's winning column."""
        indices: list[int] = self.matrix.argmax(axis=1).tolist()
        return indices

    def top(self, classes: Sequence[str]) -> tuple[list[str], list[float]]:
        """Each row's label and its score."""
        best = self.matrix.argmax(axis=1)
        scores: list[float] = self.matrix[np.arange(len(best)), best].tolist()
        return [classes[i] for i in best.tolist()], scores


class TableFormat(Protocol):
    """One input/output format. ``records`` reads the header (if any) before returning."""

    name: FormatName
    content_type: str

    def records(self, text: io.TextIOWrapper) -> Iterator[Record]: ...

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
    if is_blank(value):
        return (
            EMPTY_TEXT,
            "text is empty or has no visible character (only whitespace, control or format ones)",
        )
    if len(value) > max_chars:
        return TEXT_TOO_LONG, f"text has {len(value)} characters; the limit is {max_chars}"
    return None


_ESCAPED = re.compile("[\udc80-\udcff]")  # bytes that were not UTF-8, kept by surrogateescape
_LINE_ENDS = re.compile("\r\n|\r|\n")


def undecodable(line: int, text: str) -> tuple[str, str] | None:
    """(reason, detail) when ``text`` holds bytes that were not valid UTF-8, else None."""
    if text.isascii():
        return None
    found = _ESCAPED.search(text)
    if found is None:
        return None
    byte = ord(found.group()) - 0xDC00
    before = text[: found.start()]
    line_start = max(before.rfind("\n"), before.rfind("\r")) + 1  # the bad byte's own line, in a record
    line += len(_LINE_ENDS.findall(before))
    return UNDECODABLE, (
        f"line {line} is not valid UTF-8 (byte 0x{byte:02x} at character {found.start() - line_start + 1}); "
        "save the file as UTF-8"
    )


def _output_names(existing: Sequence[str], wanted: Sequence[str]) -> list[str]:
    """Names for the added columns; all get a ``predicted_`` prefix if any clashes with the input's."""
    taken = set(existing)
    names = list(wanted)
    while taken.intersection(names):
        names = [f"predicted_{name}" for name in names]
    return names


# Where a CSV record stands after some text: at the start of a field, inside an unquoted
# field, inside a quoted field, or just after a quote inside a quoted field.
START, FIELD, QUOTED, QUOTE = 0, 1, 2, 3
DELIMITERS: Final = (",", ";", "\t", "|")
_SEP_LINE = re.compile(r"sep=(.)(\r\n|\r|\n)?\Z")


def scan_quotes(text: str, state: int, delimiter: str) -> int:
    """The quote state after ``text``, starting in ``state``; as Python's ``csv`` reads it.

    A quote opens a quoted field only at the start of a field; ``""`` inside one is a
    quote; anything else after a closing quote (a strict-mode error) continues the
    field unquoted, as non-strict ``csv`` does. So a record ends at the first line end
    met outside a quoted field, whatever the line lengths, and :func:`csv.reader` with
    ``strict=True`` never reads past the end of a record this finds.
    """
    pos, end = 0, len(text)
    find = text.find
    while pos < end:
        if state == QUOTED:
            pos = find('"', pos) + 1
            if not pos:
                return QUOTED
            state = QUOTE
        elif state == FIELD:
            pos = find(delimiter, pos) + 1
            if not pos:
                return FIELD
            state = START
        elif state == START:
            if text[pos] == '"':
                state, pos = QUOTED, pos + 1
            else:
                state = FIELD
        else:  # QUOTE: an escaped quote, the end of the field, or an error (read on, unquoted)
            char = text[pos]
            pos += 1
            state = QUOTED if char == '"' else START if char == delimiter else FIELD
    return state


_EOF: Final = object()


class _Feed:
    """An iterator that hands :func:`csv.reader` exactly one record, then stops."""

    __slots__ = ("item",)

    def __init__(self) -> None:
        self.item: str | None = None

    def __iter__(self) -> _Feed:
        return self

    def __next__(self) -> str:
        item = self.item
        if item is None:
            raise StopIteration
        self.item = None
        return item


class CsvFormat:
    """CSV with a header row; quoted fields may span lines. Other columns pass through.

    The delimiter is ``,`` ``;`` tab or ``|``: from a spreadsheet ``sep=`` first line,
    else the ``delimiter`` argument, else whichever of them makes the header hold the
    text column (or, failing that, split it into the most columns).
    """

    name: FormatName = "csv"
    content_type = "text/csv; charset=utf-8"

    def __init__(
        self,
        text_column: str,
        max_text_chars: int,
        max_line_bytes: int,
        delimiter: str | None = None,
        show_user_text: bool = False,
    ) -> None:
        self._text_column = text_column
        self._max_chars = max_text_chars
        self._max_line_bytes = max_line_bytes
        self._delimiter = delimiter
        self._show = show_user_text
        self._sep_line = False
        self.delimiter = delimiter or ","
        self._columns: list[str] = []
        self._out_columns: list[str] = []
        self._text_index = 0
        # records are cut to MAX_LINE_BYTES before csv sees them: its own field limit must not bite first
        if csv.field_size_limit() < max_line_bytes + 2:
            csv.field_size_limit(max_line_bytes + 2)

    def records(self, text: io.TextIOWrapper) -> Iterator[Record]:
        state = [START]

        def follow(chunk: str) -> None:  # quotes of a line too long to keep
            state[0] = scan_quotes(chunk, state[0], self.delimiter)

        lines = physical_lines(text, self._max_line_bytes, follow)
        first, number = self._first_line(lines)
        pieces = self._pieces(lines, first, number, state)
        feed = _Feed()
        reader = csv.reader(feed, delimiter=self.delimiter, strict=True)
        self._read_header(pieces, feed, reader)
        return self._rows(pieces, feed, reader)

    def _first_line(self, lines: Iterator[str | None]) -> tuple[str | None, int]:
        """The first non-blank line (after a ``sep=`` line), its number; sets the delimiter."""
        number = 0
        for line in lines:
            number += 1
            if line is not None and not line.strip("\r\n"):
                continue  # blank lines before the header
            if line is not None and number == 1 and (sep := _SEP_LINE.match(line)):
                if sep.group(1) not in DELIMITERS:
                    raise UnreadableFileError(
                        "wrong_format",
                        f"the first line sets the delimiter to {sep.group(1)!r}; supported: "
                        + ", ".join(repr(d) for d in DELIMITERS),
                    )
                self.delimiter = sep.group(1)
                self._delimiter = self.delimiter
                self._sep_line = True
                continue
            if line is not None and self._delimiter is None:
                self.delimiter = self._detect(line)
            return line, number
        raise UnreadableFileError("empty_file", "the file has no header row (it is empty)")

    def _detect(self, line: str) -> str:
        best, best_count = ",", 0
        for candidate in DELIMITERS:
            try:
                fields = next(csv.reader([line.rstrip("\r\n")], delimiter=candidate))
            except (csv.Error, StopIteration):
                continue
            if self._text_column in fields:
                return candidate
            if len(fields) > best_count:
                best, best_count = candidate, len(fields)
        return best

    def _pieces(
        self, lines: Iterator[str | None], first: str | None, number: int, state: list[int]
    ) -> Iterator[tuple[int, int, str | None, str | None]]:
        """Records as (first line, last line, text or None, problem reason or None).

        A record is cut only at a line end outside quotes, so the limits decide whether a
        record is read, never where it ends. Too long (a line, or the lines together):
        ``text`` is None, the reason says which, and nothing of it is kept.
        """
        limit, delimiter = self._max_line_bytes, self.delimiter
        source = itertools.chain((first,), lines)
        end = number - 1
        for line in source:
            end += 1
            start = end
            if line is not None and '"' not in line:  # the common case: one line, no quotes
                yield start, start, line, None
                continue
            parts: list[str] = []
            size = 0  # characters so far, not counting the line end that may close the record
            reason: str | None = None
            while True:
                if line is None:  # too long; its quotes were followed while it was skipped
                    reason, parts = LINE_TOO_LONG, []
                else:
                    state[0] = scan_quotes(line, state[0], delimiter)
                    if reason is None:
                        content = len(line.rstrip("\r\n"))
                        if size + content > limit:
                            reason, parts = RECORD_TOO_LONG, []
                        else:
                            size += len(line)
                            parts.append(line)
                if state[0] != QUOTED:
                    break
                following = next(source, _EOF)
                if following is _EOF:
                    break  # a quote left open to the end of the file
                end += 1
                line = following  # type: ignore[assignment]
            still_open = state[0] == QUOTED
            state[0] = START
            if reason is None:
                record = "".join(parts)
                if not record.isascii():
                    body = record.rstrip("\r\n")
                    if len(body.encode("utf-8", "surrogateescape")) > limit:
                        reason = RECORD_TOO_LONG
                if reason is None:
                    yield start, end, record, None
                    continue
            if start == end and reason == RECORD_TOO_LONG:
                reason = LINE_TOO_LONG
            yield start, end, None, BROKEN_CSV if still_open and reason == RECORD_TOO_LONG else reason

    def _too_long(self, start: int, end: int, reason: str) -> Rejected:
        if reason == BROKEN_CSV:
            return Rejected(start, end, BROKEN_CSV, f"a quoted field opened on line {start} is never closed")
        if reason == LINE_TOO_LONG:
            where = f"line {start}" if start == end else f"a line of the record on lines {start}-{end}"
            return Rejected(start, end, LINE_TOO_LONG, f"{where} is longer than {self._max_line_bytes} bytes")
        return Rejected(
            start,
            end,
            RECORD_TOO_LONG,
            f"the record on lines {start}-{end} is longer than {self._max_line_bytes} bytes",
        )

    def _read_header(
        self, pieces: Iterator[tuple[int, int, str | None, str | None]], feed: _Feed, reader: Any
    ) -> None:
        for start, end, record, reason in pieces:
            if record is None:
                raise UnreadableFileError(
                    "wrong_format",
                    f"cannot read the header row: {self._too_long(start, end, reason or '').detail}",
                )
            if (bad := undecodable(start, record)) is not None:
                raise UnreadableFileError(
                    "wrong_encoding",
                    f"the header row is not UTF-8 text ({bad[1].split('(', 1)[1].split(')')[0]}); "
                    "save the file as UTF-8, or as UTF-16/UTF-32 with a byte-order mark",
                )
            feed.item = record
            try:
                header: list[str] = next(reader)
            except csv.Error as exc:
                raise UnreadableFileError("wrong_format", f"the header row is not valid CSV: {exc}") from None
            if header:
                break
        else:
            raise UnreadableFileError("empty_file", "the file has no header row (it is empty)")
        if self._text_column not in header:
            raise UnreadableFileError("missing_text_column", self._missing_column(header))
        self._columns = header
        self._text_index = header.index(self._text_column)
        self._out_columns = _output_names(header, ["label", "score"])

    def _missing_column(self, header: list[str]) -> str:
        shown = {",": "','", ";": "';'", "\t": "tab", "|": "'|'"}[self.delimiter]
        how = "set by CSV_DELIMITER or a sep= line" if self._delimiter else "detected"
        message = (
            f"no {self._text_column!r} column in the header row: it has {len(header)} column(s) "
            f"separated by {shown} ({how})"
        )
        if self._show:
            message += " named " + ", ".join(repr(c) for c in header[:20])
        message += (
            ". The first line must be a header row naming the columns; if the texts are in a column "
            "with another name, set TEXT_COLUMN to it"
        )
        if len(header) == 1:
            message += "; if the columns are separated by another character, set CSV_DELIMITER (, ; tab |)"
        return message

    def _rows(
        self, pieces: Iterator[tuple[int, int, str | None, str | None]], feed: _Feed, reader: Any
    ) -> Iterator[Record]:
        width = len(self._columns)
        text_index, max_chars = self._text_index, self._max_chars
        for start, end, record, reason in pieces:
            if record is None:
                yield self._too_long(start, end, reason or "")
                continue
            if not record.isascii() and (bad := undecodable(start, record)) is not None:
                yield Rejected(start, end, *bad)
                continue
            feed.item = record
            try:
                fields: list[str] = next(reader)
            except csv.Error as exc:
                yield Rejected(start, end, BROKEN_CSV, f"CSV error: {exc}")
                continue
            except StopIteration:  # pragma: no cover - a record always yields a row or an error
                raise AssertionError("csv.reader returned no row for a record") from None
            if not fields:
                yield Blank(start)
            elif len(fields) != width:
                yield Rejected(start, end, WRONG_FIELD_COUNT, self._field_count(width, len(fields)))
            elif (text_problem := check_text(fields[text_index], max_chars)) is not None:
                yield Rejected(start, end, *text_problem)
            else:
                yield Row(start, end, fields[text_index], fields)

    def _field_count(self, width: int, found: int) -> str:
        detail = f"expected {width} field{'s' if width != 1 else ''} (as the header), found {found}"
        if found > width:  # the usual cause: a text holding the delimiter without quotes around it
            shown = {",": "','", ";": "';'", "\t": "a tab", "|": "'|'"}[self.delimiter]
            detail += f': a field holding {shown} must be quoted ("...")'
            if width == 1 and not self._delimiter:
                detail += ", or set CSV_DELIMITER to the file's separator"
        return detail

    def header(self) -> bytes:
        """The header row (after a ``sep=`` line when the input had one), in the input's delimiter."""
        buffer = io.StringIO()
        if self._sep_line:
            buffer.write(f"sep={self.delimiter}\r\n")
        csv.writer(buffer, delimiter=self.delimiter).writerow([*self._columns, *self._out_columns])
        return buffer.getvalue().encode("utf-8")

    def encode(self, rows: Sequence[Row], scores: Scores, classes: Sequence[str]) -> bytes:
        """The rows' output lines: their fields, then the label and its score."""
        labels, top = scores.top(classes)
        buffer = io.StringIO()
        writer = csv.writer(buffer, delimiter=self.delimiter)
        writer.writerows(
            [*row.data, label, repr(round(score, SCORE_DIGITS))]
            for row, label, score in zip(rows, labels, top, strict=True)
        )
        return buffer.getvalue().encode("utf-8")


LOOK_AHEAD_LINES: Final = 1000  # lines read past a first line that is not a JSON object
# reasons that say nothing of whether a line is a JSON object
_NOT_JSON_LINES: Final = frozenset({INVALID_JSON, NOT_AN_OBJECT, LINE_TOO_LONG, UNDECODABLE})


class JsonLinesFormat:
    """One JSON object per line with a text field; other fields pass through."""

    name: FormatName = "jsonl"
    content_type = "application/x-ndjson"

    def __init__(self, text_field: str, max_text_chars: int, max_line_bytes: int) -> None:
        self._text_field = text_field
        self._max_chars = max_text_chars
        self._max_line_bytes = max_line_bytes

    def records(self, text: io.TextIOWrapper) -> Iterator[Record]:
        numbered = enumerate(physical_lines(text, self._max_line_bytes), start=1)
        blanks: list[Record] = []
        for number, raw in numbered:
            record = self._record(number, raw)
            if isinstance(record, Blank):
                blanks.append(record)
                continue
            if isinstance(record, Rejected) and record.reason == UNDECODABLE:
                raise UnreadableFileError(
                    "wrong_encoding",
                    f"the first line is not UTF-8 text ({record.detail.split('(', 1)[1].split(')')[0]}); "
                    "save the file as UTF-8, or as UTF-16/UTF-32 with a byte-order mark",
                )
            if isinstance(record, Rejected) and record.reason in (INVALID_JSON, NOT_AN_OBJECT):
                # one bad first record must not cost the good ones after it: the file is JSON Lines
                # when one of the next lines is a JSON object; else it is another format. A first
                # line opening a multi-line JSON document (`[` or `{` alone, `[{...},`) never is.
                opened = (raw or "").strip()
                pretty = record.reason == INVALID_JSON and (
                    opened in ("[", "{") or (opened.startswith("[") and opened.endswith(","))
                )
                ahead = None if pretty else self._look_ahead(numbered)
                if ahead is None:
                    raise UnreadableFileError(
                        "wrong_format",
                        f"not JSON Lines: line {number} is not a JSON object ({record.detail})",
                    )
                return self._rest([*blanks, record, *ahead], numbered)
            return self._rest([*blanks, record], numbered)
        raise UnreadableFileError("empty_file", "the file has no JSON lines (it is empty)")

    def _look_ahead(self, numbered: Iterator[tuple[int, str | None]]) -> list[Record] | None:
        """The records up to the first JSON object among the next lines, or None if there is none."""
        seen: list[Record] = []
        for number, raw in itertools.islice(numbered, LOOK_AHEAD_LINES):
            record = self._record(number, raw)
            seen.append(record)
            if isinstance(record, Row) or (
                isinstance(record, Rejected) and record.reason not in _NOT_JSON_LINES
            ):
                return seen
        return None

    def _rest(self, first: list[Record], numbered: Iterator[tuple[int, str | None]]) -> Iterator[Record]:
        yield from first
        for number, raw in numbered:
            yield self._record(number, raw)

    def _record(self, number: int, line: str | None) -> Record:
        if line is None:
            return Rejected(
                number, number, LINE_TOO_LONG, f"line {number} is longer than {self._max_line_bytes} bytes"
            )
        if (bad := undecodable(number, line)) is not None:
            return Rejected(number, number, *bad)
        if not line.strip():
            return Blank(number)
        content = line.rstrip("\r\n")  # an error at the line end is at its last column, not on a next line
        try:
            data = json.loads(content)
        except json.JSONDecodeError as exc:
            detail = f"invalid JSON: {exc.msg.removesuffix(' at')} at column {exc.colno}"
            return Rejected(number, number, INVALID_JSON, detail)
        except RecursionError:  # arrays/objects nested deeper than the parser's recursion limit
            return Rejected(number, number, INVALID_JSON, "invalid JSON: nested too deeply to read")
        except ValueError:  # an integer longer than sys.get_int_max_str_digits() digits
            return Rejected(
                number, number, INVALID_JSON, "invalid JSON: a number has too many digits to read"
            )
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
        """The rows' output lines: each object with its label, score and every class's score."""
        out = []
        for row, best, per_class in zip(rows, scores.best(), scores.matrix.tolist(), strict=True):
            data: dict[str, Any] = row.data
            names = _output_names(list(data), ["label", "score", "scores"])
            result = {
                **data,
                names[0]: classes[best],
                names[1]: round(per_class[best], SCORE_DIGITS),
                names[2]: {c: round(s, SCORE_DIGITS) for c, s in zip(classes, per_class, strict=True)},
            }
            out.append(json.dumps(result, ensure_ascii=False, separators=(",", ":")))
            out.append("\n")
        return "".join(out).encode("utf-8")


def make_format(
    name: FormatName,
    text_column: str,
    max_text_chars: int,
    max_line_bytes: int,
    delimiter: str | None = None,
    show_user_text: bool = False,
) -> TableFormat:
    if name == "csv":
        return CsvFormat(text_column, max_text_chars, max_line_bytes, delimiter, show_user_text)
    return JsonLinesFormat(text_column, max_text_chars, max_line_bytes)
