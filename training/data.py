"""Reading and cleaning labelled text data (CSV or JSON Lines)."""

from __future__ import annotations

import csv
import io
import json
import sys
from collections import Counter, defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from training.errors import DataError

csv.field_size_limit(min(sys.maxsize, 2**31 - 1))


@dataclass
class CleaningReport:
    rows_read: int = 0
    empty_dropped: int = 0
    duplicates_dropped: int = 0
    conflicting_texts: int = 0
    conflicting_rows_dropped: int = 0
    conflict_examples: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, object]:
        return {
            "rows_read": self.rows_read,
            "empty_dropped": self.empty_dropped,
            "duplicates_dropped": self.duplicates_dropped,
            "conflicting_texts": self.conflicting_texts,
            "conflicting_rows_dropped": self.conflicting_rows_dropped,
        }


@dataclass
class Dataset:
    texts: list[str]
    labels: list[str]
    source: Path
    report: CleaningReport

    @property
    def class_counts(self) -> dict[str, int]:
        return dict(sorted(Counter(self.labels).items()))


def detect_format(path: Path) -> str:
    suffix = path.suffix.lower()
    if suffix in (".jsonl", ".ndjson"):
        return "jsonl"
    if suffix in (".csv", ".tsv", ".txt"):
        return "csv"
    raise DataError(f"{path}: unknown file type {suffix!r} (expected .csv or .jsonl)")


def _read_text(path: Path) -> str:
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise DataError(f"{path}: no such file") from None
    except OSError as exc:
        raise DataError(f"{path}: cannot read ({exc.strerror})") from None
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise DataError(f"{path}: not UTF-8 text (undecodable bytes on line {line})") from None


def _rows_csv(path: Path, content: str, text_col: str, label_col: str) -> Iterator[tuple[str, str]]:
    if not content.strip():
        raise DataError(f"{path}: the file is empty")
    dialect = csv.excel_tab if path.suffix.lower() == ".tsv" else csv.excel
    reader = csv.DictReader(io.StringIO(content, newline=""), dialect=dialect)
    header = reader.fieldnames or []
    missing = [c for c in (text_col, label_col) if c not in header]
    if missing:
        raise DataError(
            f"{path}: missing column(s) {', '.join(repr(c) for c in missing)}; "
            f"header has {', '.join(repr(c) for c in header)} (use --text-column/--label-column)"
        )
    try:
        for row in reader:
            yield (row.get(text_col) or ""), (row.get(label_col) or "")
    except csv.Error as exc:
        raise DataError(f"{path}: broken CSV on line {reader.line_num}: {exc}") from None


def _rows_jsonl(path: Path, content: str, text_col: str, label_col: str) -> Iterator[tuple[str, str]]:
    seen_any = False
    for number, line in enumerate(content.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as exc:
            raise DataError(f"{path}: line {number} is not valid JSON ({exc.msg})") from None
        if not isinstance(obj, dict):
            raise DataError(f"{path}: line {number} is not a JSON object")
        if not seen_any:
            missing = [c for c in (text_col, label_col) if c not in obj]
            if missing:
                raise DataError(
                    f"{path}: missing field(s) {', '.join(repr(c) for c in missing)} on line {number}"
                )
        seen_any = True
        text, label = obj.get(text_col), obj.get(label_col)
        yield ("" if text is None else str(text)), ("" if label is None else str(label))
    if not seen_any:
        raise DataError(f"{path}: the file is empty")


def load_dataset(path: Path, text_col: str = "text", label_col: str = "label") -> Dataset:
    """Read ``path`` and clean it: strip, drop empty rows, dedupe, drop conflicting labels."""
    fmt = detect_format(path)
    content = _read_text(path)
    rows = (_rows_csv if fmt == "csv" else _rows_jsonl)(path, content, text_col, label_col)
    report = CleaningReport()
    by_text: dict[str, list[str]] = defaultdict(list)
    order: list[str] = []
    for text, label in rows:
        report.rows_read += 1
        text, label = text.strip(), label.strip()
        if not text or not label:
            report.empty_dropped += 1
            continue
        if text not in by_text:
            order.append(text)
        by_text[text].append(label)
    texts: list[str] = []
    labels: list[str] = []
    for text in order:
        seen = by_text[text]
        distinct = set(seen)
        if len(distinct) > 1:
            report.conflicting_texts += 1
            report.conflicting_rows_dropped += len(seen)
            if len(report.conflict_examples) < 5:
                report.conflict_examples.append(f"{text[:60]!r}: {', '.join(sorted(distinct))}")
            continue
        report.duplicates_dropped += len(seen) - 1
        texts.append(text)
        labels.append(seen[0])
    if not texts:
        raise DataError(f"{path}: no usable rows (every row was empty or conflicting)")
    return Dataset(texts=texts, labels=labels, source=path, report=report)
