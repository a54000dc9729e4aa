"""The fan-out planner: byte ranges on record boundaries, read back exactly as the whole file reads.

The property every plan must have: reading each range (with its prefix, see
``textclf_fanout.ranges``) through the batch reader and renumbering its lines and rows gives the
records of the whole file, in order, with the same line numbers, rows, reasons and details.
"""

from __future__ import annotations

import io
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from textclf_batch.errors import UnreadableFileError
from textclf_batch.formats import Blank, FormatName, Rejected, Row, make_format
from textclf_batch.streams import chained, open_binary, open_text
from textclf_fanout.plan import Plan, TooLargeToPlanError, line_start_at_or_after, plan_object
from textclf_fanout.ranges import count_lines, prefix_for, range_records, shift_error

MAX_LINE = 1024


@pytest.fixture(autouse=True)
def short_look_ahead(monkeypatch: pytest.MonkeyPatch) -> None:
    """The JSON Lines reader looks 1000 lines ahead past a bad first line; 3 here, so that small
    files still split (the planner keeps those lines in the first range, whatever the number)."""
    monkeypatch.setattr("textclf_batch.formats.LOOK_AHEAD_LINES", 3)


def reader(data: bytes) -> Any:
    return lambda start, end: data[start:end]


def csv_delimiter(stream: Any) -> str | None:
    fmt = make_format("csv", "text", 5000, MAX_LINE)
    try:
        fmt.records(open_text(open_binary(stream, compressed=False))[0])
    except UnreadableFileError:
        return None
    return str(getattr(fmt, "delimiter", ","))


def plan(data: bytes, kind: FormatName, target: int) -> Plan:
    return plan_object(reader(data), len(data), kind, False, target, csv_delimiter)


def as_entries(records: Any, rows_before: int, lines_before: int) -> tuple[list[Any], int]:
    out: list[Any] = []
    rows = 0
    for record in records:
        if isinstance(record, Blank):
            out.append(("blank", record.line + lines_before))
            continue
        rows += 1
        if isinstance(record, Rejected):
            out.append(("rejected", shift_error(record.as_json(rows), lines_before, rows_before)))
        else:
            assert isinstance(record, Row)
            out.append(("row", record.line + lines_before, record.end_line + lines_before, record.data))
    return out, rows


def whole(data: bytes, kind: FormatName) -> list[Any]:
    fmt = make_format(kind, "text", 50, MAX_LINE)
    text, _ = open_text(open_binary(io.BytesIO(data), compressed=False))
    return as_entries(fmt.records(text), 0, 0)[0]


def split(data: bytes, kind: FormatName, result: Plan) -> list[Any]:
    out: list[Any] = []
    rows = lines = 0
    header = data[: result.header_end]
    for piece in result.ranges:
        body = data[piece.start : piece.end]
        prefix = prefix_for(kind, piece.index, header)
        fmt = make_format(kind, "text", 50, MAX_LINE)
        text, _ = open_text(chained(prefix, io.BytesIO(body)))
        entries, read = as_entries(range_records(fmt, text, kind, prefix), rows, lines)
        out += entries
        rows += read
        lines += count_lines(body)
    return out


def check(data: bytes, kind: FormatName, target: int) -> Plan:
    result = plan(data, kind, target)
    edges = [(r.start, r.end) for r in result.ranges]
    assert edges[0][0] == 0 and edges[-1][1] == len(data)
    assert all(a < b for a, b in edges) or len(data) == 0
    assert all(edges[i][1] == edges[i + 1][0] for i in range(len(edges) - 1))
    assert split(data, kind, result) == whole(data, kind)
    return result


def cuts(data: bytes, kind: FormatName, target: int) -> list[int]:
    return [r.start for r in plan(data, kind, target).ranges[1:]]


# -- examples --------------------------------------------------------------------------------

CSV = b'id,text\r\n1,"first\r\nline two"\r\n2,plain\r\n3,"a ""quoted"" word, and\nmore"\r\n4,end\r\n'


@pytest.mark.parametrize("target", range(1, len(CSV) + 2))
def test_csv_quoted_newlines_straddling_every_edge(target: int) -> None:
    result = check(CSV, "csv", target)
    inside = [CSV.index(b"first\r\n") + 7, CSV.index(b"and\n") + 4]  # line ends inside quotes
    assert not set(inside) & {r.start for r in result.ranges}


def test_csv_cuts_only_after_records_and_header() -> None:
    header_end = CSV.index(b"\r\n") + 2
    record_ends = [header_end, CSV.index(b'two"\r\n') + 6, CSV.index(b"plain\r\n") + 7]
    record_ends.append(CSV.index(b'more"\r\n') + 7)
    assert cuts(CSV, "csv", 1) == record_ends  # ranges smaller than a record: one record each
    assert cuts(CSV, "csv", 10_000) == []  # a tiny file is one range
    # a cut lands at, not before, a record end that is exactly the target
    assert cuts(CSV, "csv", record_ends[1])[0] == record_ends[1]
    assert cuts(CSV, "csv", record_ends[1] - 1)[0] == record_ends[1]
    assert cuts(CSV, "csv", record_ends[1] + 1)[0] == record_ends[2]


@pytest.mark.parametrize(
    "data",
    [
        b'\xef\xbb\xbfid,text\n1,caf\xc3\xa9 ok\n2,"two\nlines"\n',  # BOM, UTF-8, LF
        b'sep=;\r\nid;text\r\n1;"a;b\r\nc"\r\n2;x\r\n',  # spreadsheet sep= line
        b"\n\nid,text\n1,after blank lines\n\n3,x\n",  # blank lines before the header and rows
        b'id,text\r1,old mac\r2,"cr\rinside"\r3,z',  # CR alone, no final line end
        b'id,text\n1,he is 6" tall\n2,"ok"\n3,x"y\n4,"a"b\n5,z\n',  # literal and stray quotes
        b'id,text\n1,"never closed\n2,x\n3,y\n',  # a quote open to the end of the file
        b"id,text\n1,\xff bad byte\n2,a,b\n3,\n4,ok\n",  # undecodable, wrong field count, empty
        b"id,text\n1," + b"x" * (MAX_LINE + 10) + b'\n2,ok\n3,"long\n' + b"y" * MAX_LINE + b'"\n4,k\n',
    ],
)
def test_csv_kinds_of_files_split_anywhere_read_the_same(data: bytes) -> None:
    for target in range(1, len(data) + 1, max(1, len(data) // 97)):
        check(data, "csv", target)


@pytest.mark.parametrize(
    "data",
    [
        b'{"text": "a"}\n{"text": "b"}\r\n\n{"text": 5}\r{"x": 1}\n[1]\n{bad\n{"text": "c"}',
        b'\xef\xbb\xbf{"text": "bom"}\n{"text": "\xff"}\n{"text": "z"}\n',
        b"not json\n[]\n\n" + b'{"text": "the first line is bad, a later one good"}\n' * 3,
        b'{"text": "' + b"x" * (MAX_LINE + 5) + b'"}\n{"text": "after a long line"}\n',
    ],
)
def test_jsonl_split_anywhere_reads_the_same(data: bytes) -> None:
    for target in range(1, len(data) + 1, max(1, len(data) // 97)):
        check(data, "jsonl", target)


def test_crlf_is_never_cut_in_half() -> None:
    data = b"a\r\nb\r\nc\r\n"
    assert line_start_at_or_after(reader(data), len(data), 2) == 3  # target between CR and LF
    assert line_start_at_or_after(reader(data), len(data), 3) == 3  # already a line start
    assert line_start_at_or_after(reader(data), len(data), 8) is None  # only the end is left


def test_files_that_are_not_split() -> None:
    big = b"id,text\n" + b'1,"x"\n' * 100
    gz = plan_object(reader(big), len(big), "csv", True, 10, csv_delimiter)
    assert len(gz.ranges) == 1 and gz.unsplit_reason and "gzip" in gz.unsplit_reason
    wide = "id,text\n1,x\n2,y\n".encode("utf-16")
    result = plan_object(reader(wide), len(wide), "csv", False, 4, csv_delimiter)
    assert len(result.ranges) == 1 and result.unsplit_reason and "UTF-16" in result.unsplit_reason
    no_column = b"id,body\n" + b"1,x\n" * 50
    result = plan_object(reader(no_column), len(no_column), "csv", False, 8, csv_delimiter)
    assert len(result.ranges) == 1 and result.unsplit_reason == "the header row cannot be read"


# -- generated files -------------------------------------------------------------------------

FIELD = st.text(alphabet='ab ,;"\r\n\u00e9x', max_size=12)
LINE_END = st.sampled_from(["\n", "\r\n", "\r"])


@st.composite
def csv_files(draw: st.DrawFn) -> bytes:
    end = draw(LINE_END)
    lines = ["id,text"]
    for i in range(draw(st.integers(0, 12))):
        value = draw(FIELD)
        quoted = draw(st.booleans())
        lines.append(f'{i},"{value.replace(chr(34), chr(34) * 2)}"' if quoted else f"{i},{value}")
    body = end.join(lines) + (end if draw(st.booleans()) else "")
    bom = "\ufeff" if draw(st.booleans()) else ""
    return (bom + body).encode("utf-8")


@given(data=csv_files(), target=st.integers(1, 64))
@settings(
    max_examples=300,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
def test_generated_csv_split_reads_the_same(data: bytes, target: int) -> None:
    check(data, "csv", target)


@given(
    lines=st.lists(
        st.sampled_from(['{"text": "a"}', '{"text": ""}', "[]", "{", "", '{"t": 1}']), max_size=15
    ),
    end=LINE_END,
    target=st.integers(1, 40),
)
@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_generated_jsonl_split_reads_the_same(lines: list[str], end: str, target: int) -> None:
    data = ('{"text": "first"}' + end + end.join(lines)).encode()
    check(data, "jsonl", target)


# -- the CSV size limit (FANOUT_CSV_MAX_BYTES) -------------------------------------------------------


class CountingReader:
    """A byte source that records the furthest offset read."""

    def __init__(self, data: bytes) -> None:
        self.data, self.furthest = data, 0

    def __call__(self, start: int, end: int) -> bytes:
        self.furthest = max(self.furthest, min(end, len(self.data)))
        return self.data[start:end]


@pytest.mark.parametrize("rows", [200, 120_000])
def test_a_csv_over_the_limit_is_refused_before_its_scan_and_at_the_limit_is_planned(rows: int) -> None:
    data = b"id,text\r\n" + b"".join(b'%d,"secret text %d\r\nline two"\r\n' % (i, i) for i in range(rows))
    size = len(data)
    at_limit = plan_object(CountingReader(data), size, "csv", False, 512, csv_delimiter, csv_max_bytes=size)
    assert len(at_limit.ranges) > 1 and at_limit.scanned_bytes == size
    source = CountingReader(data)
    with pytest.raises(TooLargeToPlanError) as refused:
        plan_object(source, size, "csv", False, 512, csv_delimiter, csv_max_bytes=size - 1)
    if size > 4 << 20:
        assert source.furthest < size // 2  # only the header's first blocks were read, no scan
    error = refused.value
    assert error.reason == "too_large"
    assert f"{size:,} bytes" in error.message and f"{size - 1:,} bytes" in error.message
    assert "FANOUT_CSV_MAX_BYTES" in error.message and "JSON Lines" in error.message
    assert "\n" not in error.message and "secret" not in error.message  # one line, no user text


def test_only_a_csv_that_would_be_scanned_is_refused() -> None:
    csv = b"id,text\n" + b"1,x\n" * 100
    jsonl = b'{"text": "x"}\n' * 100
    wide = "id,text\n1,x\n2,y\n".encode("utf-16")
    no_column = b"id,body\n" + b"1,x\n" * 50
    for data, kind, compressed in [
        (jsonl, "jsonl", False),  # planned from small reads at each cut: no scan
        (csv, "csv", True),  # gzip: one range
        (wide, "csv", False),  # UTF-16: one range
        (no_column, "csv", False),  # the header cannot be read: one range, its own error
        (csv, "csv", False),  # one range (not over FANOUT_RANGE_BYTES): nothing to scan
    ]:
        target = len(data) if kind == "csv" and data is csv else 8
        read = reader(data)
        result = plan_object(read, len(data), kind, compressed, target, csv_delimiter, csv_max_bytes=1)
        assert result.ranges, (kind, compressed)
