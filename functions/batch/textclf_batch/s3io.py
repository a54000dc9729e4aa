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
    """Buffered writer for one S3 object. Call :meth:`complete` or :meth:`abort` once.

    ``client`` is a boto3 S3 client; ``bucket``, ``key``, ``content_type`` and ``metadata`` (S3
    user metadata) describe the object to write; ``part_size`` is in bytes (default
    :data:`PART_SIZE`). ``bytes_written`` counts the bytes given to :meth:`write`.
    """

    def __init__(
        self,
        client: Any,
        bucket: str,
        key: str,
        content_type: str,
        part_size: int | None = None,
        metadata: dict[str, str] | None = None,
    ) -> None:
        self.client = client
        self.bucket = bucket
        self.key = key
        self.content_type = content_type
        self.metadata = metadata or {}
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

    def start_multipart(self) -> str:
        """The id of this object's multipart upload (``CreateMultipartUpload`` the first time);
        :meth:`abort` aborts it until :meth:`finish_multipart` completes it."""
        if self._upload_id is None:
            created = self.client.create_multipart_upload(
                Bucket=self.bucket, Key=self.key, ContentType=self.content_type, Metadata=self.metadata
            )
            self._upload_id = created["UploadId"]
        return self._upload_id

    def finish_multipart(self, parts: list[dict[str, Any]], condition: dict[str, str]) -> dict[str, Any]:
        """``CompleteMultipartUpload`` of ``parts`` (``{"PartNumber", "ETag"}`` in order) under
        ``condition`` (see :meth:`complete`); S3's response (``VersionId``, ...)."""
        response: dict[str, Any] = self.client.complete_multipart_upload(
            Bucket=self.bucket,
            Key=self.key,
            UploadId=self.start_multipart(),
            MultipartUpload={"Parts": parts},
            **condition,
        )
        self._upload_id = None
        return response

    def _upload_part(self, body: bytes) -> None:
        upload_id = self.start_multipart()
        number = len(self._parts) + 1
        part = self.client.upload_part(
            Bucket=self.bucket, Key=self.key, UploadId=upload_id, PartNumber=number, Body=body
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
            response = self.client.put_object(
                Bucket=self.bucket,
                Key=self.key,
                Body=self._take(),
                ContentType=self.content_type,
                Metadata=self.metadata,
                **condition,
            )
        else:
            if self._buffered:
                self._upload_part(self._take())
            response = self.finish_multipart(self._parts, condition)
        version: str | None = response.get("VersionId")
        return version

    def abort(self) -> None:
        """Drop everything written so far; nothing appears under the key."""
        self._pieces, self._buffered = [], 0
        if self._upload_id is None:
            return
        try:
            self.client.abort_multipart_upload(Bucket=self.bucket, Key=self.key, UploadId=self._upload_id)
        except Exception as exc:  # the bucket's lifecycle rule cleans up what is left
            logger.warning("could not abort the multipart upload of %s: %s", self.key, exc)
        self._upload_id = None
