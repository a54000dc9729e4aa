"""Assembling one S3 object from several, in order, without downloading them: multipart
``UploadPartCopy``.

S3 wants every part but the last to hold at least 5 MiB (and at most 5 GiB, 10,000 parts).
Range outputs are often smaller, so :func:`part_plan` groups the sources: a stretch of one
source of at least 5 MiB is copied by S3 itself; bytes that cannot stand as a part of their
own (small outputs, and the few bytes that top a small part up to 5 MiB) are fetched with
ranged GETs and uploaded (``UploadPart``); such a part holds under 10 MiB. Up to
``PARALLEL_PARTS`` parts are in flight at once; copied bytes never leave S3.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Final

from textclf_batch.s3io import S3Upload

MIN_PART: Final = 5 * 1024 * 1024
MAX_PART: Final = 5 * 1024 * 1024 * 1024
PARALLEL_PARTS: Final = 16  # at most this many parts in flight (and at most 16 x 10 MiB fetched in memory)


@dataclass(frozen=True, slots=True)
class Segment:
    """Bytes ``[start, end)`` of source ``source``."""

    source: int
    start: int
    end: int


def part_plan(sizes: list[int], min_part: int = MIN_PART, max_part: int = MAX_PART) -> list[list[Segment]]:
    """The parts (each a list of segments, in order) that rebuild the concatenation of ``sizes``.

    A part of one segment of at least ``min_part`` bytes is copied; any other is uploaded. Every
    part but the last holds at least ``min_part`` bytes, none more than ``max_part``.
    """
    parts: list[list[Segment]] = []
    current: list[Segment] = []
    filled = 0
    for index, size in enumerate(sizes):
        pos = 0
        while pos < size:
            left = size - pos
            if not current and left >= min_part:
                take = min(left, max_part)
                if 0 < left - take < min_part:  # leave a copyable remainder, not a crumb
                    take = left - min_part
                parts.append([Segment(index, pos, pos + take)])
                pos += take
                continue
            take = min(min_part - filled, left)
            if 0 < left - take < min_part:
                take = left  # the rest could not stand alone: keep it in this uploaded part
            current.append(Segment(index, pos, pos + take))
            filled += take
            pos += take
            if filled >= min_part:
                parts.append(current)
                current, filled = [], 0
    if current:
        parts.append(current)
    return parts


class MultipartCopy(S3Upload):
    """An S3 object made of other objects of the same bucket; :meth:`complete` or :meth:`abort`.

    An :class:`textclf_batch.s3io.S3Upload` whose parts come from ``sources`` instead of
    :meth:`write` calls, so the single-function path's publishing rule (``complete(condition)``,
    ``abort()``) applies to it unchanged.
    """

    def __init__(
        self,
        client: Any,
        bucket: str,
        key: str,
        content_type: str,
        sources: list[tuple[str, int]],
        metadata: dict[str, str] | None = None,
        min_part: int = MIN_PART,
    ) -> None:
        super().__init__(client, bucket, key, content_type, metadata=metadata)
        self._sources = sources
        self._min_part = min_part
        self.bytes_written = sum(size for _, size in sources)
        self.copied_bytes = 0

    def _fetch(self, segment: Segment) -> bytes:
        key, _ = self._sources[segment.source]
        response = self.client.get_object(
            Bucket=self.bucket, Key=key, Range=f"bytes={segment.start}-{segment.end - 1}"
        )
        data: bytes = response["Body"].read()
        return data

    def complete(self, condition: dict[str, str] | None = None) -> str | None:
        """Build and publish the object (atomically); its version id (None when unversioned)."""
        condition = condition or {}
        plan = part_plan([size for _, size in self._sources], self._min_part)
        if len(plan) <= 1:  # under one part: one PutObject of the fetched bytes
            body = b"".join(self._fetch(s) for s in plan[0]) if plan else b""
            response = self.client.put_object(
                Bucket=self.bucket,
                Key=self.key,
                Body=body,
                ContentType=self.content_type,
                Metadata=self.metadata,
                **condition,
            )
            version: str | None = response.get("VersionId")
            return version
        upload_id = self.start_multipart()

        def part(number: int, segments: list[Segment]) -> dict[str, Any]:
            common = {"Bucket": self.bucket, "Key": self.key, "UploadId": upload_id, "PartNumber": number}
            if len(segments) == 1 and segments[0].end - segments[0].start >= self._min_part:
                segment = segments[0]
                source, _ = self._sources[segment.source]
                result = self.client.upload_part_copy(
                    CopySource={"Bucket": self.bucket, "Key": source},
                    CopySourceRange=f"bytes={segment.start}-{segment.end - 1}",
                    **common,
                )
                self.copied_bytes += (
                    segment.end - segment.start
                )  # (one += per thread: GIL-atomic enough for a statistic)
                return {"PartNumber": number, "ETag": result["CopyPartResult"]["ETag"]}
            body = b"".join(self._fetch(s) for s in segments)
            return {"PartNumber": number, "ETag": self.client.upload_part(Body=body, **common)["ETag"]}

        # parts are independent: copy them PARALLEL_PARTS at a time (S3 does the copying)
        with ThreadPoolExecutor(PARALLEL_PARTS) as pool:
            parts = list(pool.map(lambda numbered: part(*numbered), enumerate(plan, start=1)))
        version = self.finish_multipart(parts, condition).get("VersionId")
        return version
