"""Writing an S3 object as a stream: it becomes visible only when complete.

Small outputs go up in one ``PutObject``; larger ones as a multipart upload that
is completed at the end (S3 publishes the object atomically then) or aborted on
failure, so a half-written object is never visible under its key.
"""

from __future__ import annotations

import logging
from typing import Any

logger = logging.getLogger(__name__)

PART_SIZE = 8 * 1024 * 1024  # S3: >= 5 MiB per part (except the last), <= 10,000 parts (80 GiB)


class S3Upload:
    """Buffered writer for one S3 object. Call :meth:`complete` or :meth:`abort` once."""

    def __init__(
        self,
        client: Any,
        bucket: str,
        key: str,
        content_type: str,
        part_size: int | None = None,
        metadata: dict[str, str] | None = None,
    ) -> None:
        self._client = client
        self._bucket = bucket
        self.key = key
        self._content_type = content_type
        self._metadata = metadata or {}
        self._part_size = part_size or PART_SIZE
        # pieces as written, joined once per part: at most one part plus its joined copy in memory
        self._pieces: list[bytes] = []
        self._buffered = 0
        self._upload_id: str | None = None
        self._parts: list[dict[str, Any]] = []
        self.bytes_written = 0

    def write(self, data: bytes) -> None:
        if not data:
            return
        self._pieces.append(data)
        self._buffered += len(data)
        self.bytes_written += len(data)
        if self._buffered >= self._part_size:
            self._upload_part(self._take())

    def _take(self) -> bytes:
        body = b"".join(self._pieces)
        self._pieces, self._buffered = [], 0
        return body

    def _upload_part(self, body: bytes) -> None:
        if self._upload_id is None:
            created = self._client.create_multipart_upload(
                Bucket=self._bucket, Key=self.key, ContentType=self._content_type, Metadata=self._metadata
            )
            self._upload_id = created["UploadId"]
        number = len(self._parts) + 1
        part = self._client.upload_part(
            Bucket=self._bucket, Key=self.key, UploadId=self._upload_id, PartNumber=number, Body=body
        )
        self._parts.append({"PartNumber": number, "ETag": part["ETag"]})
        if number % 1000 == 0:  # S3 allows 10,000 parts: grow them so that no output is too big
            self._part_size *= 2

    def complete(self, condition: dict[str, str] | None = None) -> str | None:
        """Publish the object (all of it, at once); its S3 version id (None when unversioned).

        ``condition`` is ``{"IfMatch": etag}`` or ``{"IfNoneMatch": "*"}``: S3 then publishes
        only if the key still holds that object (or none), else answers 412 and nothing
        changes; the multipart upload stays open for :meth:`abort`.
        """
        condition = condition or {}
        if self._upload_id is None:
            response = self._client.put_object(
                Bucket=self._bucket,
                Key=self.key,
                Body=self._take(),
                ContentType=self._content_type,
                Metadata=self._metadata,
                **condition,
            )
        else:
            if self._buffered:
                self._upload_part(self._take())
            response = self._client.complete_multipart_upload(
                Bucket=self._bucket,
                Key=self.key,
                UploadId=self._upload_id,
                MultipartUpload={"Parts": self._parts},
                **condition,
            )
            self._upload_id = None
        version: str | None = response.get("VersionId")
        return version

    def abort(self) -> None:
        """Drop everything written so far; nothing appears under the key."""
        self._pieces, self._buffered = [], 0
        if self._upload_id is None:
            return
        try:
            self._client.abort_multipart_upload(Bucket=self._bucket, Key=self.key, UploadId=self._upload_id)
        except Exception as exc:  # the bucket's lifecycle rule cleans up what is left
            logger.warning("could not abort the multipart upload of %s: %s", self.key, exc)
        self._upload_id = None
