"""Generated CSV files: the reader's limits never merge, split or invent records (issue 12, 3-5, 7).

Valid CSV is generated with Python's ``csv.writer`` (every delimiter and line end), with
fields whose line breaks fall at random points, so physical lines have random lengths
around ``MAX_LINE_BYTES``. The expected outcome of each record is computed independently
from the bytes the writer produced for it: scored with exactly its fields, or rejected
once, as ``line_too_long`` / ``record_too_long``, with its first and last line.
"""

from __future__ import annotations

import csv
import io
import re
from typing import Any

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from tests.integration.conftest import Batch
from textclf_batch.formats import CsvFormat, Rejected, Row
from textclf_batch.streams import open_binary, open_text

pytestmark = pytest.mark.integration

LIMIT = 1024
PIECES = ["x", "word ", "é", "€", "💸", '"', '""', ",", ";", "|", "\t", " "]
BREAKS = ["\n", "\r", "\r\n"]
LINE = re.compile(r"[^\r\n]*(?:\r\n|\r|\n)")


@st.composite
def fields(draw: Any) -> str:
    """Text of random length (often near LIMIT bytes) with line breaks at random points."""
    parts = []
    for _ in range(draw(st.integers(1, 3))):
        piece = draw(st.sampled_from(PIECES))
        length = draw(st.one_of(st.integers(1, 40), st.integers(LIMIT // 2, LIMIT + 80)))
        parts.append("ab" + piece * max(1, length // len(piece.encode())))
    breaks = draw(st.lists(st.sampled_from(BREAKS), min_size=len(parts) - 1, max_size=len(parts) - 1))
    return "".join(p + b for p, b in zip(parts, [*breaks, ""], strict=True))


@st.composite
def csv_files(draw: Any) -> tuple[bytes, str, list[list[str]], list[str]]:
    delimiter = draw(st.sampled_from([",", ";", "\t", "|"]))
    ending = draw(st.sampled_from(BREAKS))
    quoting = draw(st.sampled_from([csv.QUOTE_MINIMAL, csv.QUOTE_ALL]))
    records = [
        [str(i), draw(fields()), draw(st.sampled_from(["", "short note", "a\r\nb"]))]
        for i in range(draw(st.integers(1, 8)))
    ]
    serialised = []
    for record in [["id", "text", "note"], *records]:
        buffer = io.StringIO()
        csv.writer(buffer, delimiter=delimiter, lineterminator=ending, quoting=quoting).writerow(record)
        serialised.append(buffer.getvalue())
    text = "".join(serialised)
    reference = list(csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, strict=True))
    assume(reference == [["id", "text", "note"], *records])  # the generator wrote valid CSV
    return text.encode("utf-8"), delimiter, records, serialised[1:]


def expected_outcomes(serialised: list[str]) -> list[tuple[int, int, str | None]]:
    """(first line, last line, reason or None) per record, from its own bytes."""
    out, line = [], 2
    for raw in serialised:
        lines = LINE.findall(raw)
        assert "".join(lines) == raw
        contents = [part.rstrip("\r\n") for part in lines]
        end = line + len(lines) - 1
        if any(len(c.encode()) > LIMIT for c in contents):
            out.append((line, end, "line_too_long"))
        elif len(raw.rstrip("\r\n").encode()) > LIMIT:
            out.append((line, end, "record_too_long"))
        else:
            out.append((line, end, None))
        line = end + 1
    return out


def read(data: bytes) -> tuple[CsvFormat, list[Any]]:
    fmt = CsvFormat("text", max_text_chars=100_000, max_line_bytes=LIMIT)
    text, _ = open_text(open_binary(io.BytesIO(data), compressed=False))
    return fmt, list(fmt.records(text))


@settings(max_examples=300, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])
@given(csv_files())
def test_limits_never_merge_split_or_invent_records(
    case: tuple[bytes, str, list[list[str]], list[str]],
) -> None:
    data, delimiter, records, serialised = case
    fmt, got = read(data)
    assert fmt.delimiter == delimiter
    want = expected_outcomes(serialised)
    assert len(got) == len(records)  # one outcome per record: none merged, split or invented
    for record, outcome, (start, end, reason) in zip(records, got, want, strict=True):
        assert (outcome.line, outcome.end_line) == (start, end)
        if reason is None:
            assert isinstance(outcome, Row) and outcome.data == record
        else:
            assert isinstance(outcome, Rejected) and outcome.reason == reason


@settings(max_examples=300, deadline=None, database=None)
@given(csv_files(), st.integers(0, 200))
def test_a_block_boundary_anywhere_changes_nothing(
    case: tuple[bytes, str, list[list[str]], list[str]], cut: int
) -> None:
    """The same bytes served in reads of random sizes (as S3 and gzip hand them over) read the same."""
    data, _, _, _ = case

    class Trickle(io.RawIOBase):
        def __init__(self) -> None:
            self.pos = 0

        def readable(self) -> bool:
            return True

        def readinto(self, buffer: Any) -> int:
            n = min(len(buffer), cut + 1, len(data) - self.pos)
            buffer[:n] = data[self.pos : self.pos + n]
            self.pos += n
            return n

    whole = [(type(r).__name__, r.line, r.end_line) for r in read(data)[1]]
    fmt = CsvFormat("text", max_text_chars=100_000, max_line_bytes=LIMIT)
    text, _ = open_text(open_binary(io.BufferedReader(Trickle(), 7), compressed=False))
    assert [(type(r).__name__, r.line, r.end_line) for r in fmt.records(text)] == whole


@settings(max_examples=12, deadline=None, database=None, suppress_health_check=list(HealthCheck))
@given(csv_files())
def test_through_s3_every_record_is_scored_or_reported_once(
    batch: Batch, batch_env: pytest.MonkeyPatch, case: tuple[bytes, str, list[list[str]], list[str]]
) -> None:
    """The handler's published outputs, recounted: scored rows equal the valid records, in order."""
    from textclf.settings import get_settings

    data, delimiter, records, serialised = case
    batch_env.setenv("MAX_LINE_BYTES", str(LIMIT))
    get_settings.cache_clear()
    try:
        batch.load()
        result = batch.upload_and_invoke("incoming/generated.csv", data)["results"][0]
    finally:
        batch_env.delenv("MAX_LINE_BYTES")
        get_settings.cache_clear()
    want = expected_outcomes(serialised)
    valid = [r for r, (_, _, reason) in zip(records, want, strict=True) if reason is None]
    out = batch.read("predictions/generated.csv").decode()
    rows = list(csv.reader(io.StringIO(out, newline=""), delimiter=delimiter))
    errors = batch.errors("predictions/generated.csv.errors.jsonl")
    assert result["rows"] == {
        "read": len(records),
        "scored": len(valid),
        "rejected": len(records) - len(valid),
    }
    assert [r[:3] for r in rows[1:]] == valid
    assert [(e["line"], e.get("end_line", e["line"]), e["reason"]) for e in errors] == [
        w for w in want if w[2] is not None
    ]


ENCODINGS = {
    "utf-8": b"",
    "utf-8-sig": b"",
    "utf-16-le": b"\xff\xfe",
    "utf-16-be": b"\xfe\xff",
    "utf-32-le": b"\xff\xfe\x00\x00",
    "utf-32-be": b"\x00\x00\xfe\xff",
}


@settings(max_examples=200, deadline=None, database=None)
@given(
    st.lists(
        st.text(st.characters(codec="utf-8", exclude_categories=["Cs", "Cc", "Zl", "Zp"]), min_size=1).filter(
            str.strip
        ),
        min_size=1,
        max_size=6,
    ),
    st.sampled_from(sorted(ENCODINGS)),
    st.lists(st.sampled_from(BREAKS), min_size=7, max_size=7),
    st.sampled_from(["csv", "jsonl"]),
)
def test_any_encoding_with_a_bom_and_any_line_ends_read_the_same_rows(
    texts: list[str], encoding: str, ends: list[str], fmt_name: str
) -> None:
    """Encodings x line ends x formats: exactly the generated texts come out, in order."""
    import json

    from textclf_batch.formats import JsonLinesFormat

    if fmt_name == "csv":
        lines = []
        for text in ["text", *texts]:
            buffer = io.StringIO()
            csv.writer(buffer, lineterminator="").writerow([text])
            lines.append(buffer.getvalue())
        fmt: Any = CsvFormat("text", max_text_chars=100_000, max_line_bytes=LIMIT * 64)
    else:
        lines = [json.dumps({"text": t}, ensure_ascii=False) for t in texts]
        fmt = JsonLinesFormat("text", max_text_chars=100_000, max_line_bytes=LIMIT * 64)
    body = "".join(line + end for line, end in zip(lines, ends, strict=False))
    data = ENCODINGS[encoding] + body.encode(encoding)
    text, name = open_text(open_binary(io.BytesIO(data), compressed=False))
    records = list(fmt.records(text))
    assert [type(r).__name__ for r in records] == ["Row"] * len(texts)
    assert [r.text for r in records] == texts
    assert name == ("UTF-8" if encoding.startswith("utf-8") else encoding[:6].upper())
