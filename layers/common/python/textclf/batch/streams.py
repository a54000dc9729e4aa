"""Byte streams in and out: gzip on the fly and physical lines of bounded length.

Nothing here holds more than one buffer of the input at a time, whatever the
size of the object: S3 bodies are read in blocks, decompressed incrementally and
cut into lines no longer than a fixed limit.
"""

from __future__ import annotations

import io
import zlib
from collections.abc import Iterator
from typing import Protocol

from textclf.batch.errors import UnreadableFileError

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
            self._started = True
            try:
                self._pending = self._inflater.decompress(compressed, want)
                if self._inflater.eof:  # another gzip member may follow (concatenated .gz files)
                    rest = self._inflater.unused_data
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


class GzipWriter:
    """Deterministic gzip compression (no timestamp or file name in the header)."""

    def __init__(self) -> None:
        self._deflater = zlib.compressobj(6, zlib.DEFLATED, 31)

    def compress(self, data: bytes) -> bytes:
        return self._deflater.compress(data)

    def flush(self) -> bytes:
        return self._deflater.flush()
