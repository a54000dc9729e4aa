"""Cutting one object into byte ranges that start and end on record boundaries.

Pure functions over a byte source (``read(start, end) -> bytes``), so the planner is tested
without S3. A *cut* is the offset of the first byte of a record: the byte after a line end
(LF, CRLF or CR alone, as the batch reader splits lines) at which a record may start.

- **JSON Lines**: every line end is a record boundary, so a cut near each target offset is
  found by reading a small window there (no scan of the file).
- **CSV**: a line end inside a quoted field is not a boundary. The planner reads the object
  once, front to back, following the quote state exactly as the batch reader does
  (:func:`textclf_batch.formats.scan_quotes`, a record ends at the first line end outside a
  quoted field, a quote in an unquoted field is a literal character); blocks without any quote
  are skipped at C speed. The first range always holds the header record (and a ``sep=`` line
  or blank lines before it), whose bytes :attr:`Plan.header_end` marks: every other range is
  read with those bytes in front, so it parses exactly as the whole file would.
- **Refused**: a CSV object larger than ``csv_max_bytes`` (``FANOUT_CSV_MAX_BYTES``), which the
  scan could not finish within the plan step's time limit, raises :class:`TooLargeToPlanError`
  before any of it is scanned.
- **Not split** (one range, scored by one worker within its limits): gzip objects (a deflate
  stream cannot be entered at a byte offset), UTF-16/UTF-32 files (their bytes are not ASCII
  compatible), and files whose header cannot be read (the worker reports the file-level error
  the single-function path reports).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Final, Literal

from textclf_batch import formats
from textclf_batch.errors import UnreadableFileError
from textclf_batch.formats import QUOTED, START, scan_quotes

FormatName = Literal["csv", "jsonl"]
Read = Callable[[int, int], bytes]  # bytes [start, end) of the object (fewer at its end)

BLOCK: Final = 1 << 20
WINDOW: Final = 64 * 1024
WIDE_BOMS: Final = (b"\xff\xfe", b"\xfe\xff", b"\x00\x00\xfe\xff")
_LINE: Final = re.compile("[^\r\n]*(?:\r\n|\r|\n)")


@dataclass(frozen=True, slots=True)
class ByteRange:
    """Bytes ``[start, end)`` of the object; ``index`` orders the outputs."""

    index: int
    start: int
    end: int


@dataclass(frozen=True, slots=True)
class Plan:
    """The ranges (in order, covering ``[0, size)`` without gaps) and why a file is not split."""

    ranges: list[ByteRange]
    header_end: int = 0
    unsplit_reason: str | None = None
    scanned_bytes: int = 0
    cuts: list[int] = field(default_factory=list)


class TooLargeToPlanError(UnreadableFileError):
    """A CSV object too big for the plan step's one scan (reason ``too_large``): over the limit
    (:meth:`over_limit`) or, the scan being slower than the limit assumed, out of time
    (:meth:`out_of_time`). The message says the sizes and what to do, in one line."""

    def __init__(self, message: str) -> None:
        super().__init__("too_large", message)

    @classmethod
    def over_limit(cls, size: int, limit: int) -> TooLargeToPlanError:
        return cls(
            f"the CSV file is {size:,} bytes, more than the {limit:,} bytes (FANOUT_CSV_MAX_BYTES) the "
            "fan-out's plan step can scan for record boundaries within its time limit; nothing was "
            f"scored. Split it into CSV files of at most {limit:,} bytes, or upload it as JSON Lines "
            "(planned without a scan)"
        )

    @classmethod
    def out_of_time(cls, size: int, offset: int, margin: float, limit: int) -> TooLargeToPlanError:
        return cls(
            f"the fan-out's plan step had scanned {offset:,} of the CSV file's {size:,} bytes for record "
            f"boundaries when under {margin:.0f} s of its time limit was left; nothing was scored. Split "
            "it into smaller CSV files, or upload it as JSON Lines (planned without a scan); "
            f"FANOUT_CSV_MAX_BYTES ({limit:,} bytes) is more than this plan step scans in time"
        )


def _ranges(cuts: list[int], size: int) -> list[ByteRange]:
    edges = [0, *cuts, size]
    return [ByteRange(i, a, b) for i, (a, b) in enumerate(zip(edges, edges[1:], strict=False))]


def unsplit(size: int, reason: str) -> Plan:
    return Plan([ByteRange(0, 0, size)], unsplit_reason=reason)


def line_start_at_or_after(read: Read, size: int, offset: int) -> int | None:
    """The first line start ``>= offset`` (``offset`` itself if a line ends just before it), or
    None if no line ends between there and the end of the object."""
    if offset <= 0:
        return 0
    pos = offset - 1  # the byte before: is it a line end already?
    window = WINDOW
    while pos < size:
        data = read(pos, min(size, pos + window + 1))  # one byte more: a CR may be followed by LF
        if not data:
            return None
        lf, cr = data.find(b"\n"), data.find(b"\r")
        hits = [i for i in (lf, cr) if i >= 0]
        if hits:
            i = min(hits)
            if data[i : i + 1] == b"\r" and i + 1 == len(data) and pos + i + 1 < size:
                data = read(pos + i, pos + i + 2)  # the CR is the window's last byte: look past it
                i, pos = 0, pos + i
            end = pos + i + (2 if data[i : i + 2] == b"\r\n" else 1)
            return end if end < size else None
        pos += len(data) - 1 if len(data) > 1 else 1
        window *= 2
    return None


def first_lines_end(read: Read, size: int, after_first: int) -> int:
    """Offset after the ``after_first`` lines that follow the first non-blank line (or the end).

    The batch reader looks ahead that many lines when a JSON Lines file's first line is not a
    JSON object (is it JSON Lines at all?): the first range holds them, so it decides alike.
    """
    seen = -1  # lines after the first non-blank one
    carry = ""
    for offset, data in _blocks(read, size):
        text = carry + data.decode("latin-1")
        base = offset - len(carry)
        end = 0
        for match in _LINE.finditer(text):
            end = match.end()
            line = match.group().encode("latin-1").decode("utf-8", "replace").lstrip("\ufeff")
            if seen >= 0 or line.strip():
                seen += 1
                if seen >= after_first:
                    return base + end
        carry = text[end:]
    return size


def plan_jsonl(read: Read, size: int, target: int) -> Plan:
    """Cuts at the first line start at or after every ``target`` bytes from the previous cut;
    the first not before the end of the reader's look-ahead (:func:`first_lines_end`)."""
    cuts: list[int] = []
    last = 0
    first = first_lines_end(read, size, formats.LOOK_AHEAD_LINES)
    cut = line_start_at_or_after(read, size, max(first, target)) if first < size else None
    if cut is None:
        return Plan([ByteRange(0, 0, size)])
    cuts.append(cut)
    last = cut
    while last + target < size:
        cut = line_start_at_or_after(read, size, last + target)
        if cut is None:
            break
        cuts.append(cut)
        last = cut
    return Plan(_ranges(cuts, size), cuts=cuts)


def _blocks(read: Read, size: int) -> Iterator[tuple[int, bytes]]:
    pos = 0
    while pos < size:
        data = read(pos, min(size, pos + BLOCK))
        if not data:
            return
        yield pos, data
        pos += len(data)


def record_ends(read: Read, size: int, delimiter: str) -> Iterator[tuple[int, bool]]:
    """(offset after a line end, whether a record ends there) for the lines of a CSV object.

    Lines are followed through blocks of bytes decoded as Latin-1 (one character per byte, so
    offsets stay byte offsets; quote, delimiter, CR and LF are ASCII and never part of a UTF-8
    multi-byte character). A block without a quote, entered outside a quoted field, ends a
    record at each of its line ends; only lines holding a quote, or lines inside a quoted field,
    go through the quote scanner.
    """
    state = START
    carry = ""
    for offset, data in _blocks(read, size):
        text = carry + data.decode("latin-1")
        base = offset - len(carry)  # the object offset of text[0]
        last = offset + len(data) == size
        # complete lines only; a CR at the very end may be the first half of a CRLF
        end = max(text.rfind("\n"), text.rfind("\r")) + 1
        if end == len(text) and text.endswith("\r") and not last:
            end -= 1
        if last:
            end = len(text)
        body, carry = text[:end], text[end:]
        if state != QUOTED and '"' not in body:
            for match in _LINE.finditer(body):
                yield base + match.end(), True
            if last and body and not body.endswith(("\n", "\r")):
                yield base + len(body), True
            continue
        pos = 0
        for match in _LINE.finditer(body):
            line = match.group()
            if state == QUOTED or '"' in line:
                state = scan_quotes(line, state, delimiter)
            if state != QUOTED:
                state = START
                yield base + match.end(), True
            else:
                yield base + match.end(), False
            pos = match.end()
        if last and pos < len(body):
            yield base + len(body), True
    return


def plan_csv(read: Read, size: int, target: int, delimiter: str, header_end: int) -> Plan:
    """Cuts at record ends: the first at or after ``max(header_end, target)``, then every
    ``target`` bytes after the previous cut. Reads the whole object once (see the module)."""
    cuts: list[int] = []
    want = max(header_end, target)
    scanned = 0
    for offset, is_record_end in record_ends(read, size, delimiter):
        scanned = offset
        if is_record_end and offset >= want and offset < size:
            cuts.append(offset)
            want = offset + target
    return Plan(_ranges(cuts, size), header_end=header_end, scanned_bytes=scanned, cuts=cuts)


def header_end_offset(read: Read, size: int, delimiter: str, sep_line: bool) -> int | None:
    """Offset after the header record: blank lines and a ``sep=`` first line before it are part
    of the header bytes. None if the object has no complete header record."""
    number = 0
    ends = record_ends(read, size, delimiter)
    start = 0
    for offset, is_end in ends:
        if not is_end:
            continue
        number += 1
        piece = read(start, offset)
        start = offset
        if number == 1 and sep_line:
            continue
        if not piece.strip(b"\r\n").strip(b"\xef\xbb\xbf"):
            continue  # blank lines (a BOM alone) before the header
        return offset
    return None


def is_wide(head: bytes) -> bool:
    """Does the object start with a UTF-16 or UTF-32 byte-order mark?"""
    return head.startswith(WIDE_BOMS)


class ReadStream:
    """``read(n)`` over a :data:`Read` function, from offset 0 (what the batch reader needs)."""

    def __init__(self, read: Read, size: int) -> None:
        self._read, self._size, self._pos = read, size, 0

    def read(self, amt: int | None = None, /) -> bytes:
        end = self._size if amt is None or amt < 0 else min(self._size, self._pos + amt)
        data = self._read(self._pos, end) if end > self._pos else b""
        self._pos += len(data)
        return data


_SEP: Final = re.compile(rb"(?:\xef\xbb\xbf)?sep=.(?:\r\n|\r|\n|\Z)")


def plan_object(
    read: Read,
    size: int,
    kind: FormatName,
    compressed: bool,
    target: int,
    csv_delimiter: Callable[[ReadStream], str | None],
    csv_max_bytes: int | None = None,
) -> Plan:
    """The plan for an object of ``size`` bytes in format ``kind``.

    ``csv_delimiter`` reads the header through the batch reader and returns the delimiter it
    settled on (``sep=`` line, setting or detection), or None when the header cannot be read:
    such a file is one range, and its worker reports the same file-level error the
    single-function path reports.

    A CSV object that would be scanned (uncompressed, not UTF-16/32, more than one range, a
    readable header) and is larger than ``csv_max_bytes`` raises :class:`TooLargeToPlanError`
    before the scan; ``None``: no limit.
    """
    if compressed:
        return unsplit(size, "gzip: a compressed stream cannot be entered at a byte offset")
    if size <= target:
        return Plan([ByteRange(0, 0, size)])
    if is_wide(read(0, 4)):
        return unsplit(size, "UTF-16/UTF-32 text: its bytes cannot be cut without decoding")
    if kind == "jsonl":
        return plan_jsonl(read, size, target)
    delimiter = csv_delimiter(ReadStream(read, size))
    if delimiter is None:
        return unsplit(size, "the header row cannot be read")
    if csv_max_bytes is not None and size > csv_max_bytes:
        raise TooLargeToPlanError.over_limit(size, csv_max_bytes)
    sep_line = _SEP.match(read(0, 16)) is not None
    header_end = header_end_offset(read, size, delimiter, sep_line)
    if header_end is None or header_end >= size:
        return Plan([ByteRange(0, 0, size)], header_end=size)
    return plan_csv(read, size, target, delimiter, header_end)
