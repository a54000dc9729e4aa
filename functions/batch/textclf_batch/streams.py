"""Byte streams in and out: gzip on the fly and physical lines of bounded length.

Nothing here holds more than one buffer of the input at a time, whatever the
size of the object: S3 bodies are read in blocks, decompressed incrementally and
cut into lines no longer than a fixed limit.
"""

from __future__ import annotations

import io
import zlib
from collections.abc import Callable, Iterator
from typing import Protocol

from textclf_batch.errors import UnreadableFileError

BLOCK = 1 << 20
GZIP_MAGIC = b"\x1f\x8b"
BOM = b"\xef\xbb\xbf"


class Readable(Protocol):
    """What we need of a byte source: botocore's ``StreamingBody``, a file, ``BytesIO``."""

    def read(self, amt: int | None = ..., /) -> bytes: ...


class _PeekedStream(io.RawIOBase):
    """A raw stream that replays a few already-read bytes before the rest of a source."""

    def __init__(self, head: bytes, source: Readable) -> None:
        self._head = head
        self._source = source

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: bytearray | memoryview) -> int:  # type: ignore[override]
        if self._head:
            n = min(len(buffer), len(self._head))
            buffer[:n] = self._head[:n]
            self._head = self._head[n:]
            return n
        data = self._source.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)


class _GunzipStream(io.RawIOBase):
    """Incremental gzip decoding of a byte source, including multi-member files."""

    def __init__(self, source: Readable) -> None:
        self._source = source
        self._inflater = zlib.decompressobj(wbits=31)
        self._pending = b""
        self._started = False  # has the current gzip member received any input?
        self._eof = False

    def readable(self) -> bool:
        return True

    def _fill(self, want: int) -> None:
        while not self._pending and not self._eof:
            compressed = self._inflater.unconsumed_tail or self._source.read(BLOCK)
            if not compressed:
                if self._started and not self._inflater.eof:
                    raise UnreadableFileError(
                        "corrupt_gzip", "the gzip stream ends early (truncated upload?)"
                    )
                self._eof = True
                return
            if (
                not self._started
            ):  # between gzip members, zero bytes are padding (as gzip(1) and Python's gzip)
                compressed = compressed.lstrip(b"\x00")
                if not compressed:
                    continue
            self._started = True
            try:
                self._pending = self._inflater.decompress(compressed, want)
                if self._inflater.eof:  # another gzip member may follow (concatenated .gz files)
                    rest = self._inflater.unused_data.lstrip(b"\x00")
                    self._inflater = zlib.decompressobj(wbits=31)
                    self._started = bool(rest)
                    if rest:
                        self._pending += self._inflater.decompress(rest, want)
            except zlib.error as exc:
                raise UnreadableFileError("corrupt_gzip", f"not a valid gzip stream: {exc}") from None

    def readinto(self, buffer: bytearray | memoryview) -> int:  # type: ignore[override]
        self._fill(len(buffer))
        n = min(len(buffer), len(self._pending))
        buffer[:n] = self._pending[:n]
        self._pending = self._pending[n:]
        return n


def chained(head: bytes, source: Readable) -> io.BufferedReader:
    """``head`` then the bytes of ``source``, as one buffered stream (nothing checked or decoded;
    e.g. a CSV header read in front of a byte range of the same file)."""
    return io.BufferedReader(_PeekedStream(head, source), BLOCK)


def open_binary(source: Readable, *, compressed: bool) -> io.BufferedReader:
    """A buffered byte stream of the (decompressed) content of ``source``.

    Checks the gzip magic number both ways: a ``.gz`` key that is not gzip, and a
    plain key that is, are unreadable rather than a stream of garbage rows.
    """
    head = source.read(2)
    if compressed and head != GZIP_MAGIC:
        if not head:
            raise UnreadableFileError("empty_file", "the object is empty (0 bytes)")
        raise UnreadableFileError("corrupt_gzip", "the key ends in .gz but the object is not gzip data")
    if not compressed and head == GZIP_MAGIC:
        raise UnreadableFileError(
            "wrong_format", "the object is gzip-compressed but its key does not end in .gz"
        )
    raw: io.RawIOBase = _PeekedStream(head, source)
    if compressed:
        raw = _GunzipStream(io.BufferedReader(raw, BLOCK))
    return io.BufferedReader(raw, BLOCK)


ENCODING_BOMS: tuple[tuple[bytes, str, str], ...] = (
    # longest first: the UTF-32 LE mark starts with the UTF-16 LE one
    (b"\xff\xfe\x00\x00", "utf-32", "UTF-32"),
    (b"\x00\x00\xfe\xff", "utf-32", "UTF-32"),
    (BOM, "utf-8-sig", "UTF-8"),
    (b"\xff\xfe", "utf-16", "UTF-16"),
    (b"\xfe\xff", "utf-16", "UTF-16"),
)
TEXT_BLOCK = 1 << 16


def _guess_bomless(head: bytes) -> str | None:
    """The name of a wide encoding ``head`` looks like when it has no byte-order mark, else None."""
    if len(head) < 4 or b"\x00" not in head:
        return None
    even, odd = head[0::2], head[1::2]  # UTF-16 LE: ASCII characters leave every odd byte 0
    if head[1::4].count(0) == head[2::4].count(0) == head[3::4].count(0) == len(head[1::4]):
        return "UTF-32 (little-endian)"
    if head[0::4].count(0) == head[1::4].count(0) == head[2::4].count(0) == len(head[0::4]):
        return "UTF-32 (big-endian)"
    if odd.count(0) >= len(odd) * 3 // 4 and even.count(0) == 0:
        return "UTF-16 (little-endian)"
    if even.count(0) >= len(even) * 3 // 4 and odd.count(0) == 0:
        return "UTF-16 (big-endian)"
    return None


def open_text(stream: io.BufferedReader) -> tuple[io.TextIOWrapper, str]:
    """The decoded text of ``stream`` and the name of its encoding.

    UTF-8 unless a byte-order mark says UTF-16 or UTF-32 (the mark is removed).
    Line ends are kept as they are (``newline=""``: CR, LF and CRLF all end a line).
    Bytes that are not UTF-8 become lone surrogates (``surrogateescape``) so that the
    rows holding them can be rejected one by one; a UTF-16/32 file must decode fully.
    Raises :class:`UnreadableFileError` for a file that looks like UTF-16/32 without
    a byte-order mark, or that is binary data rather than text.
    """
    head = stream.read(64)
    stream = io.BufferedReader(_PeekedStream(head, stream), BLOCK)
    for mark, codec, name in ENCODING_BOMS:
        if head.startswith(mark):
            errors = "surrogateescape" if codec == "utf-8-sig" else "strict"
            text = io.TextIOWrapper(stream, encoding=codec, errors=errors, newline="")
            return text, name
    wide = _guess_bomless(head)
    if wide is not None:
        raise UnreadableFileError(
            "wrong_encoding",
            f"the file looks like {wide} text without a byte-order mark; save it as UTF-8 "
            "(or as UTF-16/UTF-32 with a byte-order mark)",
        )
    if b"\x00" in head:
        raise UnreadableFileError(
            "wrong_format",
            "the file holds NUL bytes: it is binary data, or UTF-16/UTF-32 text without a byte-order "
            "mark; save it as UTF-8 CSV or JSON Lines",
        )
    return io.TextIOWrapper(stream, encoding="utf-8", errors="surrogateescape", newline=""), "UTF-8"


def physical_lines(
    text: io.TextIOWrapper, max_line_bytes: int, on_skipped: Callable[[str], object] | None = None
) -> Iterator[str | None]:
    """Each physical line of ``text``, with its line end (CR, LF or CRLF).

    A line whose content (without the line end) is longer than ``max_line_bytes``
    bytes of UTF-8 yields ``None`` instead, and is never held whole in memory: it is
    read on in blocks, each passed to ``on_skipped`` (so that a CSV reader can follow
    its quotes) and dropped. Line numbers therefore stay right.
    """
    size = max_line_bytes + 2  # room for the content and a CRLF
    quick = max_line_bytes // 4  # no line this short can exceed the limit, even at 4 bytes a character
    readline = text.readline
    cut_crlf = False  # the last read stopped between the CR and the LF of a CRLF
    while True:
        line = readline(size)
        if cut_crlf:
            cut_crlf = False
            if line == "\n":  # the rest of the line before, not a line of its own
                continue
        n = len(line)
        if n <= quick:
            if not line:
                return
            yield line
            continue
        content = line.rstrip("\r\n")
        if len(content) <= max_line_bytes and (
            content.isascii() or len(content.encode("utf-8", "surrogateescape")) <= max_line_bytes
        ):
            yield line  # (a CRLF cut at ``size`` would leave more than max_line_bytes before it)
            continue
        # too long: follow it to its end in blocks, without keeping it
        chunk, asked = line, size
        while True:
            if on_skipped is not None:
                on_skipped(chunk)
            if chunk.endswith("\n"):
                break
            if chunk.endswith("\r"):
                cut_crlf = len(chunk) == asked
                break
            chunk, asked = readline(TEXT_BLOCK), TEXT_BLOCK
            if not chunk:
                break
        yield None


class GzipWriter:
    """Deterministic gzip compression (no timestamp or file name in the header)."""

    def __init__(self) -> None:
        self._deflater = zlib.compressobj(6, zlib.DEFLATED, 31)

    def compress(self, data: bytes) -> bytes:
        return self._deflater.compress(data)

    def flush(self) -> bytes:
        return self._deflater.flush()
