"""Reading and cleaning labelled text data (CSV or JSON Lines).

Every row read ends up in exactly one place: used for training, or listed in the
:class:`CleaningReport` (refused, dropped, cut or with its label spelling merged),
with the reason and its line number. Problems with the file itself (broken CSV
quoting, a used column named twice, undecodable bytes) refuse the whole file with
one :class:`~training.errors.DataError` line. Labels go through
:func:`training.labels.normalise_label`, the one rule that names classes.
"""

from __future__ import annotations

import csv
import io
import json
import math
import sys
import unicodedata
from collections import Counter, defaultdict
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from training.errors import DataError
from training.labels import INVISIBLE, LabelError, json_kind, normalise_label

csv.field_size_limit(min(sys.maxsize, 2**31 - 1))

# Texts longer than this many characters are cut to it (the API's MAX_TEXT_CHARS default).
MAX_TEXT_CHARS = 5000
# the largest --max-text-chars (the API's own upper bound for MAX_TEXT_CHARS)
MAX_TEXT_CHARS_LIMIT = 1_000_000
# line numbers listed per reason in the manifest (the count is always complete)
LISTED_LINES = 20

REFUSED, DROPPED, CUT = "refused", "dropped", "cut"
EMPTY_TEXT = "empty text"
MISSING_LABEL = "missing label (empty, null or NaN)"
DUPLICATE = "duplicate of an earlier row"
NEAR_DUPLICATE = "duplicate of an earlier row up to case and spacing (identical features)"
CONFLICT = "same text (up to case and spacing) with different labels"


def feature_key(text: str) -> str:
    """The form of ``text`` the features see: lower case, whitespace runs as one space.

    The word analyzer lower-cases and tokenises, and the ``char_wb`` analyzer lower-cases
    and splits on whitespace, so two texts with the same key get identical features.
    """
    return " ".join(text.lower().split())


def list_lines(lines: Sequence[int]) -> str:
    """Line numbers for a message: the first ten, then how many more."""
    shown = ", ".join(map(str, lines[:10]))
    return shown + (f" and {len(lines) - 10} more" if len(lines) > 10 else "")


@dataclass
class CleaningReport:
    """What happened to every row that is not used as it was read, by outcome and reason."""

    rows_read: int = 0
    conflicting_texts: int = 0
    max_text_chars: int = MAX_TEXT_CHARS
    # (outcome, reason) -> line numbers, in file order
    outcomes: dict[tuple[str, str], list[int]] = field(default_factory=dict)
    # class -> spelling in the file -> rows (every spelling, merged or not)
    spellings: dict[str, Counter[str]] = field(default_factory=lambda: defaultdict(Counter))

    def add(self, outcome: str, reason: str, line: int) -> None:
        self.outcomes.setdefault((outcome, reason), []).append(line)

    def count(self, outcome: str, *reasons: str) -> int:
        return sum(
            len(lines)
            for (o, r), lines in self.outcomes.items()
            if o == outcome and (not reasons or r in reasons)
        )

    @property
    def empty_dropped(self) -> int:
        return self.count(DROPPED, EMPTY_TEXT, MISSING_LABEL)

    @property
    def duplicates_dropped(self) -> int:
        return self.count(DROPPED, DUPLICATE, NEAR_DUPLICATE)

    @property
    def conflicting_rows_dropped(self) -> int:
        return self.count(DROPPED, CONFLICT)

    @property
    def labels_merged(self) -> dict[str, dict[str, int]]:
        """Classes whose rows were spelled otherwise in the file: class -> spelling -> rows."""
        return {
            label: dict(sorted(seen.items()))
            for label, seen in sorted(self.spellings.items())
            if len(seen) > 1 or label not in seen
        }

    def summary(self) -> str:
        """One line: counts by outcome and reason (for error messages and progress)."""
        return "; ".join(f"{len(lines)} {o}: {r}" for (o, r), lines in self.outcomes.items())

    def as_dict(self) -> dict[str, object]:
        return {
            "rows_read": self.rows_read,
            "empty_dropped": self.empty_dropped,
            "duplicates_dropped": self.duplicates_dropped,
            "near_duplicates_dropped": self.count(DROPPED, NEAR_DUPLICATE),
            "conflicting_texts": self.conflicting_texts,
            "conflicting_rows_dropped": self.conflicting_rows_dropped,
            "rows_refused": self.count(REFUSED),
            "rows_dropped": self.count(DROPPED),
            "texts_cut": self.count(CUT),
            "max_text_chars": self.max_text_chars,
            "labels_merged": self.labels_merged,
            "rows": [
                {"outcome": o, "reason": r, "count": len(lines), "lines": lines[:LISTED_LINES]}
                for (o, r), lines in self.outcomes.items()
            ],
        }


@dataclass
class Dataset:
    texts: list[str]
    labels: list[str]
    source: Path
    report: CleaningReport
    # the file line each kept row starts on (same order as texts)
    lines: list[int] = field(default_factory=list)

    @property
    def class_counts(self) -> dict[str, int]:
        return dict(sorted(Counter(self.labels).items()))


JSONL_SUFFIXES = (".jsonl", ".ndjson")
CSV_SUFFIXES = (".csv", ".tsv", ".txt")
COMPRESSED_SUFFIXES = (".gz", ".bz2", ".xz", ".zip", ".zst")


def detect_format(path: Path) -> str:
    """``"jsonl"`` or ``"csv"`` from the file name's suffix; :class:`DataError` for any other."""
    suffix = path.suffix.lower()
    if suffix in JSONL_SUFFIXES:
        return "jsonl"
    if suffix in CSV_SUFFIXES:
        return "csv"
    known = ", ".join(CSV_SUFFIXES + JSONL_SUFFIXES)
    if suffix in COMPRESSED_SUFFIXES:
        raise DataError(f"{path}: a compressed file ({suffix}); training reads {known}: decompress it first")
    shown = repr(suffix) if suffix else "(none)"
    raise DataError(f"{path}: unknown file type {shown} (expected {known})")


def _read_text(path: Path) -> str:
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise DataError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise DataError(f"{path}: is a folder, not a file") from None
    except OSError as exc:
        raise DataError(f"{path}: cannot read ({exc.strerror})") from None
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        if raw.startswith((b"\xff\xfe", b"\xfe\xff")):
            raise DataError(f"{path}: UTF-16 text (it starts with a UTF-16 BOM); save it as UTF-8") from None
        line = raw[: exc.start].count(b"\n") + 1
        raise DataError(f"{path}: not UTF-8 text (undecodable bytes on line {line})") from None


# (line, text value, label value, names of the used fields the row lacks)
RawRow = tuple[int, object, object, tuple[str, ...]]


def _quoted_fields(
    lines: Sequence[str], delimiter: str, quote: str
) -> Iterator[tuple[int, int, int | None, str]]:
    """Each quoted field of one CSV record's physical ``lines``, in order: the (line, column)
    where it opens, the line where its quote closes (None when it never closes) and the
    character right after the closing quote ("" at the end of a line).

    A field opens with ``quote`` at its start; inside it ``quote quote`` is an escaped quote
    and any other ``quote`` closes it. Line numbers are offsets into ``lines``.
    """
    in_quotes, at_start = False, True
    opened = (0, 0)
    for offset, line in enumerate(lines):
        i = 0
        while i < len(line):
            ch = line[i]
            if in_quotes:
                if ch == quote:
                    after = line[i + 1 : i + 2]
                    if after == quote:
                        i += 2
                        continue
                    in_quotes, at_start = False, False
                    yield opened[0], opened[1], offset, after
            elif ch == quote and at_start:
                in_quotes, opened = True, (offset, i)
            else:
                at_start = ch in (delimiter, "\r", "\n")
            i += 1
        if not in_quotes:
            at_start = True
    if in_quotes:
        yield opened[0], opened[1], None, ""


def open_quote_line(lines: Sequence[str], first: int, delimiter: str = ",", quote: str = '"') -> int:
    """The line (numbered from ``first``) of the quote that opened the field a CSV error stopped in.

    ``lines`` are the physical lines of one record, as the CSV reader saw them. A field
    closes properly at a ``quote`` followed by the delimiter or the end of the line. The
    answer is where the last field that was opened but not closed properly began.
    """
    opened = first
    for line, _, closed, after in _quoted_fields(lines, delimiter, quote):
        opened = first + line
        if closed is not None and after not in (delimiter, "\r", "\n", ""):
            return opened  # text right after a closing quote: this field is broken
    return opened


def column_key(name: str) -> str:
    """A header name as it prints: invisible characters removed, ends stripped, NFC."""
    if name.isascii() and name.isprintable() and name == name.strip():
        return name  # the common case, already in that form
    visible = "".join(ch for ch in name if unicodedata.category(ch) not in INVISIBLE)
    return unicodedata.normalize("NFC", visible.strip())


def _used_columns(path: Path, header: list[str], text_col: str, label_col: str) -> tuple[int, int]:
    if text_col == label_col:
        raise DataError(f"{path}: the text and the label column are both {text_col!r}; name two columns")
    missing = [c for c in (text_col, label_col) if c not in header]
    other = [d for d in (";", "\t", "|") if len(header) == 1 and d in header[0]]
    if missing and other:
        expected = "a tab (.tsv)" if path.suffix.lower() == ".tsv" else "a comma (.csv; .tsv for tabs)"
        raise DataError(
            f"{path}: the header is one column that holds {other[0]!r}: the file seems to separate fields "
            f"with {other[0]!r}, but it is read with {expected} as the delimiter"
        )
    if missing:
        raise DataError(
            f"{path}: missing column(s) {', '.join(repr(c) for c in missing)}; "
            f"header has {', '.join(repr(c) for c in header)} (use --text-column/--label-column)"
        )
    for name in (text_col, label_col):
        # names that print the same (spaces at the ends, invisible characters, NFC vs NFD) count as one
        same = column_key(name)
        positions = [str(i) for i, h in enumerate(header, start=1) if column_key(h) == same]
        if len(positions) > 1:
            spelled = sorted({header[int(p) - 1] for p in positions})
            how = f", spelled {', '.join(map(repr, spelled))}" if len(spelled) > 1 else ""
            raise DataError(
                f"{path}: the header names column {name!r} {len(positions)} times (columns "
                f"{', '.join(positions)}{how}); rename or remove the extra one so it is clear which is meant"
            )
    return header.index(text_col), header.index(label_col)


def _rows_csv(path: Path, content: str, text_col: str, label_col: str) -> Iterator[RawRow]:
    if not content.strip():
        raise DataError(f"{path}: the file is empty")
    dialect = csv.excel_tab if path.suffix.lower() == ".tsv" else csv.excel
    lines = list(io.StringIO(content, newline=""))
    reader = csv.reader(lines, dialect=dialect, strict=True)
    end = 0

    def record() -> list[str] | None:
        nonlocal end
        start = end + 1
        try:
            fields = next(reader)
        except StopIteration:
            return None
        except csv.Error as exc:
            message = str(exc)
            if "expected" in message or "end of data" in message:
                opened = open_quote_line(lines[start - 1 : reader.line_num], start, dialect.delimiter)
                raise DataError(
                    f"{path}: broken CSV: the quoted field opened on line {opened} is not closed properly "
                    '(an unbalanced or stray `"`); quote the whole field and double any quote inside it'
                ) from None
            raise DataError(f"{path}: broken CSV on line {start}: {message}") from None
        end = reader.line_num
        return fields

    header: list[str] | None = None
    while header is None:
        fields = record()
        if fields is None:
            raise DataError(f"{path}: the file is empty")
        if any(f.strip() for f in fields):
            header = fields
    text_index, label_index = _used_columns(path, header, text_col, label_col)
    width = len(header)
    records: list[tuple[int, int, list[str]]] = []  # first line, last line, fields
    while True:
        start = end + 1
        fields = record()
        if fields is None:
            break
        if not any(f.strip() for f in fields):
            continue  # a blank line is not a row
        if len(fields) != width:
            raise DataError(
                f"{path}: broken CSV on line {start}: {len(fields)} fields where the header has {width}"
                + (" (an unquoted delimiter in a text?)" if len(fields) > width else "")
            )
        records.append((start, end, fields))
    swallowing = _swallowing_field(path, lines, records, dialect, text_index, label_index)
    if swallowing is not None:
        opened, closed = swallowing
        raise DataError(
            f"{path}: broken CSV: the quoted field opened on line {opened} runs to line {closed}, and the "
            'lines inside it look like rows of their own (an unbalanced or stray `"`); quote the whole '
            "field and double any quote inside it"
        )
    for start, _, fields in records:
        yield start, fields[text_index], fields[label_index], ()


def multiline_field(
    lines: Sequence[str], delimiter: str = ",", quote: str = '"'
) -> tuple[int, int, int] | None:
    """(line, column, closing line) of the first quoted field of a CSV record that spans lines.

    ``lines`` are the physical lines of one record that the CSV reader read without error;
    line numbers are offsets into ``lines``.
    """
    for line, column, closed, _ in _quoted_fields(lines, delimiter, quote):
        if closed is not None and closed != line:
            return line, column, closed
    return None


def _swallowing_field(
    path: Path,
    lines: Sequence[str],
    records: Sequence[tuple[int, int, list[str]]],
    dialect: type[csv.Dialect],
    text_index: int,
    label_index: int,
) -> tuple[int, int] | None:
    """(opening line, closing line) of a quoted field that swallowed whole rows, if any.

    A stray quote at the start of a field, closed by another stray quote just before a
    delimiter lines later, reads as valid CSV: one long multi-line text, and the rows in
    between vanish. It shows as a multi-line field whose lines (the opening one without
    its quote, and every one inside) each parse as a row of the header's width with a
    non-empty text and a label of the file, for at least two lines. Texts that
    merely contain line breaks do not look like that.
    """
    width = len(records[0][2]) if records else 0
    known: set[str] = set()
    multiline = []
    for start, end, fields in records:
        if end > start:
            multiline.append((start, end))
        try:
            label = normalise_label(fields[label_index])
        except LabelError:  # pragma: no cover - CSV cells are strings
            label = None
        if label is not None:
            known.add(label)
    for start, end in multiline:
        record_lines = lines[start - 1 : end]
        found = multiline_field(record_lines, dialect.delimiter)
        if found is None:
            continue
        first, column, closing = found
        opener = record_lines[first]
        inside = [opener[:column] + opener[column + 1 :], *record_lines[first + 1 : closing]]
        if len(inside) < 2:
            continue
        looks_like_rows = True
        for line in inside:
            cells = next(csv.reader([line], dialect=dialect), [])
            try:
                label = normalise_label(cells[label_index]) if len(cells) == width else None
            except LabelError:  # pragma: no cover - CSV cells are strings
                label = None
            if label not in known or not cells[text_index].strip():
                looks_like_rows = False
                break
        if looks_like_rows:
            return start + first, start + closing
    return None


class _Object(dict[str, Any]):
    """A JSON object that remembers which keys it had more than once."""

    repeated: frozenset[str] = frozenset()


def _object(pairs: list[tuple[str, Any]]) -> _Object:
    obj = _Object(pairs)
    # keys that print the same (invisible characters, spaces at the ends, NFC vs NFD) count as one
    names = Counter(column_key(k) for k, _ in pairs)
    if len(names) < len(pairs):
        obj.repeated = frozenset(k for k, n in names.items() if n > 1)
    return obj


def _rows_jsonl(path: Path, content: str, text_col: str, label_col: str) -> Iterator[RawRow]:
    if text_col == label_col:
        raise DataError(f"{path}: the text and the label field are both {text_col!r}; name two fields")
    seen: Counter[str] = Counter()
    first_keys: list[str] | None = None
    # JSON Lines ends lines with \n (\r\n tolerated); U+2028 and friends may occur inside strings
    for number, line in enumerate(content.split("\n"), start=1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line, object_pairs_hook=_object)
        except json.JSONDecodeError as exc:
            raise DataError(f"{path}: line {number} is not valid JSON ({exc.msg})") from None
        except ValueError:  # Python refuses to read integers of more than sys.get_int_max_str_digits()
            raise DataError(
                f"{path}: line {number} has an integer of more than {sys.get_int_max_str_digits()} digits, "
                "too long to read; quote it as a string"
            ) from None
        if not isinstance(obj, dict):
            raise DataError(f"{path}: line {number} is not a JSON object")
        repeated = [c for c in (text_col, label_col) if column_key(c) in getattr(obj, "repeated", ())]
        if repeated:
            raise DataError(
                f"{path}: line {number} has the field {repeated[0]!r} more than once; "
                "it is unclear which value is meant"
            )
        if first_keys is None:
            first_keys = list(obj)
        missing = tuple(c for c in (text_col, label_col) if c not in obj)
        seen.update(c for c in (text_col, label_col) if c in obj)
        yield number, obj.get(text_col), obj.get(label_col), missing
    if first_keys is None:
        raise DataError(f"{path}: the file is empty")
    absent = [c for c in (text_col, label_col) if not seen[c]]
    if absent:
        raise DataError(
            f"{path}: no line has the field(s) {', '.join(map(repr, absent))}; the first line has "
            f"{', '.join(map(repr, first_keys[:20]))} (use --text-column/--label-column)"
        )


def text_of(value: object) -> str | None:
    """The training text of a cell or JSON value (``None``: missing), or :class:`LabelError`.

    Strings are used as they are; JSON numbers are accepted as text (``42``, ``1.5``);
    null and NaN are a missing text; booleans, arrays, objects and infinities are refused.
    """
    if value is None:
        return None
    if isinstance(value, str):
        return value
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise LabelError(f"text is a JSON {json_kind(value)}, not a string")
    if isinstance(value, float) and math.isnan(value):
        return None
    if isinstance(value, float) and math.isinf(value):
        raise LabelError("text is an infinite number")
    return str(value)


def _spelling(value: object) -> str:
    return value if isinstance(value, str) else json.dumps(value)


def load_dataset(
    path: Path, text_col: str = "text", label_col: str = "label", max_text_chars: int = MAX_TEXT_CHARS
) -> Dataset:
    """Read ``path`` and clean it; every row not used as read is listed in ``Dataset.report``.

    Rows lacking a used field, or with an empty text or a missing label, are dropped;
    rows whose text or label has the wrong JSON type are refused; texts longer than
    ``max_text_chars`` characters are cut to it; rows whose texts have the same
    :func:`feature_key` are kept once, or all dropped when their labels differ.
    Raises :class:`DataError` when the file cannot be read as a whole or no row is usable.
    """
    fmt = detect_format(path)
    content = _read_text(path)
    rows = (_rows_csv if fmt == "csv" else _rows_jsonl)(path, content, text_col, label_col)
    report = CleaningReport(max_text_chars=max_text_chars)
    groups: dict[str, list[tuple[int, str, str]]] = {}
    for line, text_value, label_value, missing in rows:
        report.rows_read += 1
        if missing:
            report.add(DROPPED, f"no {missing[0]!r} field", line)
            continue
        try:
            text = text_of(text_value)
            label = normalise_label(label_value)
        except LabelError as exc:
            report.add(REFUSED, str(exc), line)
            continue
        text = (text or "").strip()
        if not text:
            report.add(DROPPED, EMPTY_TEXT, line)
            continue
        if label is None:
            report.add(DROPPED, MISSING_LABEL, line)
            continue
        if len(text) > max_text_chars:
            text = text[:max_text_chars].rstrip()
            report.add(
                CUT, f"text longer than {max_text_chars} characters, cut to the first {max_text_chars}", line
            )
        report.spellings[label][_spelling(label_value)] += 1
        groups.setdefault(feature_key(text), []).append((line, text, label))
    texts: list[str] = []
    labels: list[str] = []
    lines: list[int] = []
    for entries in groups.values():
        first_line, first_text, first_label = entries[0]
        if len({label for _, _, label in entries}) > 1:
            report.conflicting_texts += 1
            for line, _, _ in entries:
                report.add(DROPPED, CONFLICT, line)
            continue
        for line, text, _ in entries[1:]:
            report.add(DROPPED, DUPLICATE if text == first_text else NEAR_DUPLICATE, line)
        texts.append(first_text)
        labels.append(first_label)
        lines.append(first_line)
    for lines_of in report.outcomes.values():
        lines_of.sort()
    if not texts:
        why = report.summary() or "the file has a header but no rows"
        raise DataError(f"{path}: no usable rows ({why})")
    return Dataset(texts=texts, labels=labels, source=path, report=report, lines=lines)
