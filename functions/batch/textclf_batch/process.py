"""Score one S3 object end to end: stream it in, score it in chunks, stream the results out.

For ``incoming/<path>`` this writes, in this order:

- ``predictions/<path>``: the scored rows, same format (and compression) as the input;
- ``predictions/<path>.errors.jsonl``: one line per rejected row (line number, reason);
- ``predictions/<path>.summary.json``: counts, model version, input version, duration.

The first two are completed together only after every row is accounted for, and
the summary is written last, so a reader that sees the summary sees complete
outputs. The outputs depend only on the input version, the model and the
settings: processing the same object version again rewrites identical bytes.

Versions (see :func:`process_object`): only the key's current version is ever
published, and every output object names the input version it belongs to.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any, Literal

from textclf.model import Predictor
from textclf.settings import Settings
from textclf_batch.errors import BatchProcessingError, UnreadableFileError
from textclf_batch.formats import FormatName, TableFormat, format_for_key, make_format
from textclf_batch.s3io import S3Upload
from textclf_batch.scoring import Tally, json_line, score_records
from textclf_batch.streams import GzipWriter, open_binary, open_text

logger = logging.getLogger(__name__)

TIME_MARGIN_SECONDS = 30.0  # stop (and fail cleanly) when less than this is left of the Lambda timeout
INLINE_BELOW_BYTES = 256 * 1024  # small objects: starting worker processes costs more than it saves
GONE = {"NoSuchKey", "NoSuchVersion", "404", "NotFound", "PreconditionFailed", "412"}
CONFLICT = {"PreconditionFailed", "412", "ConditionalRequestConflict", "409", "NoSuchKey", "404"}
DENIED = {"AccessDenied", "403", "Forbidden"}
Status = Literal["ok", "failed", "skipped", "superseded"]


@dataclass(frozen=True, slots=True)
class S3Input:
    """The object an event points at (key already URL-decoded); ``sequencer`` as S3 sent it."""

    bucket: str
    key: str
    version_id: str | None = None
    etag: str | None = None
    sequencer: str | None = None


@dataclass(frozen=True, slots=True)
class InputFile:
    """What a run knows of its input object: the event's identity (:class:`S3Input`), then
    what GetObject said (``size``, and the version and ETag it served) and what reading found
    (format, compression, text encoding, CSV delimiter); None until known.

    Written as the summary's ``input`` object (the fields not yet known are left out); the
    version and ETag also go, as S3 metadata, on every output.
    """

    bucket: str
    key: str
    version_id: str | None = None
    etag: str | None = None
    sequencer: str | None = None
    size: int | None = None
    format: FormatName | None = None
    compressed: bool | None = None
    encoding: str | None = None
    delimiter: str | None = None

    @classmethod
    def of(cls, obj: S3Input) -> InputFile:
        return cls(obj.bucket, obj.key, obj.version_id, obj.etag, obj.sequencer)

    def as_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "bucket": self.bucket,
            "key": self.key,
            "version_id": self.version_id,
            "etag": self.etag,
            "sequencer": self.sequencer,
        }
        for name in ("size", "format", "compressed", "encoding", "delimiter"):
            if (value := getattr(self, name)) is not None:
                out[name] = value
        return out


@dataclass(frozen=True, slots=True)
class OutputKeys:
    """Where the outputs of one input key go (see :func:`output_keys`)."""

    predictions: str
    errors: str
    summary: str


@dataclass(frozen=True, slots=True)
class RowCounts:
    """Records after the header: ``read == scored + rejected``."""

    read: int
    scored: int
    rejected: int

    def as_json(self) -> dict[str, int]:
        return {"read": self.read, "scored": self.scored, "rejected": self.rejected}


@dataclass(frozen=True, slots=True)
class FileError:
    """Why a file failed: a stable ``reason`` code and a message for people (never user text)."""

    reason: str
    message: str

    def as_json(self) -> dict[str, str]:
        return {"reason": self.reason, "message": self.message}


@dataclass(frozen=True, slots=True)
class ReaderSettings:
    """The settings that decide how rows are read, recorded in every summary."""

    text_column: str
    max_text_chars: int
    max_line_bytes: int

    def as_json(self) -> dict[str, Any]:
        return {
            "text_column": self.text_column,
            "max_text_chars": self.max_text_chars,
            "max_line_bytes": self.max_line_bytes,
        }


@dataclass(frozen=True, slots=True)
class BatchSummary:
    """What one event's processing came to; :meth:`document` is ``<key>.summary.json``.

    ``status``: ``ok`` (every record scored or reported), ``failed`` (the file, or the run,
    failed: ``error`` says why), ``skipped`` (the object version is gone) or ``superseded``
    (a newer version of the key exists, or was published meanwhile). Only ``ok`` and
    ``failed`` write outputs: :meth:`outputs` names those written.
    """

    status: Status
    input: InputFile
    keys: OutputKeys
    rows: RowCounts
    rejected_by_reason: dict[str, int]
    blank_lines: int
    model_version: str
    backend: str
    settings: ReaderSettings
    error: FileError | None
    duration_seconds: float

    def outputs(self) -> dict[str, str | None]:
        """The output keys this status writes (None for the others)."""
        written = self.status in ("ok", "failed")
        return {
            "predictions": self.keys.predictions if self.status == "ok" else None,
            "errors": self.keys.errors if written else None,
            "summary": self.keys.summary if written else None,
        }

    def document(self) -> dict[str, Any]:
        """The summary as JSON (``<key>.summary.json``, in this key order)."""
        return {
            "status": self.status,
            "input": self.input.as_json(),
            "outputs": self.outputs(),
            "rows": self.rows.as_json(),
            "rejected_by_reason": dict(self.rejected_by_reason),
            "blank_lines": self.blank_lines,
            "model_version": self.model_version,
            "backend": self.backend,
            "settings": self.settings.as_json(),
            "error": self.error.as_json() if self.error else None,
            "duration_seconds": self.duration_seconds,
        }

    def result(self) -> dict[str, Any]:
        """The part of the summary the Lambda handler returns for this object."""
        return {
            "status": self.status,
            "input": self.input.as_json(),
            "outputs": self.outputs(),
            "rows": self.rows.as_json(),
            "error": self.error.as_json() if self.error else None,
        }


class _Conflict(Exception):
    """A conditional write found the output changed since it was looked at."""


def output_keys(key: str, settings: Settings) -> OutputKeys:
    """Where the outputs of ``incoming/<path>`` go; refuses keys outside the input prefix.

    That outputs cannot land under the input prefix is a rule of :class:`Settings` itself
    (checked when the handler reads them, at start-up).
    """
    if not key.startswith(settings.input_prefix):
        raise BatchProcessingError(
            "outside_input_prefix", f"key is not under {settings.input_prefix!r}; refusing to process it"
        )
    target = settings.output_prefix + key[len(settings.input_prefix) :]
    return OutputKeys(target, f"{target}.errors.jsonl", f"{target}.summary.json")


def _json_bytes(value: Any) -> bytes:
    return (json.dumps(value, ensure_ascii=False, indent=2, sort_keys=False) + "\n").encode("utf-8")


def _wrong_encoding(encoding: str, exc: UnicodeDecodeError, where: str) -> UnreadableFileError:
    """The file-level error for bytes that do not decode in the encoding its BOM declared
    (UTF-16/32 must decode fully; UTF-8 rows are rejected one by one instead)."""
    return UnreadableFileError(
        "wrong_encoding", f"the file is not valid {encoding} ({exc.reason} {where}); save it as UTF-8"
    )


def failure_line(error: FileError) -> bytes:
    """The whole errors file of a failed file: one JSON line about no line in particular,
    ``{"line": null, "reason": ..., "message": ...}``."""
    return json_line({"line": None, **error.as_json()})


def client_error_code(exc: Exception) -> str | None:
    """The S3 error code of a botocore ``ClientError`` (``"NoSuchKey"``, ``"404"``,
    ``"PreconditionFailed"``, ...); None for any other exception."""
    response = getattr(exc, "response", None)
    if isinstance(response, dict):
        code = response.get("Error", {}).get("Code")
        return str(code) if code is not None else None
    return None


class ObjectRun:
    """One run over one input object version: its version check, its counts, its outputs and
    the rule that publishes them (see :func:`process_object`).

    ``client`` is a boto3 S3 client; ``remaining_seconds`` (seconds left of the Lambda time
    limit) makes scoring stop cleanly :data:`TIME_MARGIN_SECONDS` before it. The public
    attributes are what a caller that scores elsewhere (the fan-out) fills in before
    :meth:`publish`: ``input`` (what is known of the object: :class:`InputFile`), ``tally``
    (the counts the summary reports: :class:`textclf_batch.scoring.Tally`) and, through
    :meth:`stage`, the outputs to publish. ``obj`` and ``keys`` (:class:`OutputKeys`; raises
    :class:`BatchProcessingError` for a key outside the input prefix) are fixed.
    """

    def __init__(
        self,
        client: Any,
        predictor: Predictor,
        obj: S3Input,
        settings: Settings,
        remaining_seconds: Callable[[], float] | None,
    ) -> None:
        self.client = client
        self.predictor = predictor
        self.obj = obj
        self.settings = settings
        self.remaining_seconds = remaining_seconds
        self.keys = output_keys(obj.key, settings)
        self.started = time.monotonic()
        self.tally = Tally()
        self.input = InputFile.of(obj)
        self._uploads: list[S3Upload] = []
        self._predictions: S3Upload | None = None
        self._errors: S3Upload | None = None
        self.written: list[tuple[str, str | None]] = []  # (key, version id) this run published

    # -- the summary ---------------------------------------------------------------------

    def summary(self, status: Status, error: FileError | None = None) -> BatchSummary:
        """The run's summary now: ``input``, ``tally``, the model, the reader settings, and the
        seconds since the run started."""
        tally = self.tally
        return BatchSummary(
            status=status,
            input=self.input,
            keys=self.keys,
            rows=RowCounts(tally.read, tally.scored, tally.rejected),
            rejected_by_reason=dict(sorted(tally.reasons.items())),
            blank_lines=tally.blank,
            model_version=self.predictor.version,
            backend=self.predictor.backend,
            settings=ReaderSettings(
                self.settings.text_column, self.settings.max_text_chars, self.settings.max_line_bytes
            ),
            error=error,
            duration_seconds=round(time.monotonic() - self.started, 3),
        )

    def metadata(self) -> dict[str, str]:
        """S3 user metadata on every output: the input version it was made from."""
        meta = {"input-version-id": self.input.version_id or "null"}
        if self.input.etag:
            meta["input-etag"] = self.input.etag
        if self.obj.sequencer:
            meta["input-sequencer"] = self.obj.sequencer
        meta["model-version"] = self.predictor.version.encode("ascii", "replace").decode()
        return meta

    # -- reading -------------------------------------------------------------------------

    def current(self) -> bool | None:
        """Is the event's version the key's current one? None when the key has none (deleted)."""
        try:
            head = self.client.head_object(Bucket=self.obj.bucket, Key=self.obj.key)
        except Exception as exc:
            code = client_error_code(exc)
            if code in GONE:
                return None
            if code in DENIED and not self._listed(self.obj.key):
                return None  # without s3:ListBucket S3 says 403 for a missing key
            raise
        if self.obj.version_id and head.get("VersionId") not in (None, "null"):
            return bool(head["VersionId"] == self.obj.version_id)
        if self.obj.etag:
            return bool(str(head.get("ETag", "")).strip('"') == self.obj.etag)
        return True

    def _listed(self, key: str) -> bool:
        listing = self.client.list_objects_v2(Bucket=self.obj.bucket, Prefix=key, MaxKeys=1)
        return any(item["Key"] == key for item in listing.get("Contents", []))

    def fetch(self) -> dict[str, Any] | None:
        """GetObject for exactly the version the event names; None if it is gone or replaced."""
        kwargs: dict[str, Any] = {"Bucket": self.obj.bucket, "Key": self.obj.key}
        if self.obj.version_id:
            kwargs["VersionId"] = self.obj.version_id
        elif self.obj.etag:
            kwargs["IfMatch"] = f'"{self.obj.etag}"'
        try:
            response: dict[str, Any] = self.client.get_object(**kwargs)
        except Exception as exc:
            if client_error_code(exc) in GONE:
                return None
            raise
        self.input = replace(
            self.input,
            version_id=response.get("VersionId") or self.obj.version_id,
            etag=str(response.get("ETag", self.obj.etag or "")).strip('"'),
            size=response.get("ContentLength"),
        )
        return response

    def check_time(self) -> None:
        """Raise :class:`UnreadableFileError` (``time_limit``) when less than
        :data:`TIME_MARGIN_SECONDS` of the Lambda time limit is left."""
        if self.remaining_seconds is not None and self.remaining_seconds() < TIME_MARGIN_SECONDS:
            raise UnreadableFileError(
                "time_limit",
                f"stopped with under {TIME_MARGIN_SECONDS:.0f} s of the Lambda time limit left after "
                f"{self.tally.read} rows; nothing was published. Give the function more memory (more vCPUs) "
                "or split the file",
            )

    def make_format(self, name: FormatName) -> TableFormat:
        """The reader of format ``name`` (``"csv"`` or ``"jsonl"``) with this run's settings
        (text column, limits, CSV delimiter: ``auto`` detects it, ``tab`` is a tab)."""
        delimiter = self.settings.csv_delimiter
        return make_format(
            name,
            self.settings.text_column,
            self.settings.max_text_chars,
            self.settings.max_line_bytes,
            None if delimiter == "auto" else "\t" if delimiter == "tab" else delimiter,
            self.settings.log_user_text,
        )

    def score(self, response: dict[str, Any]) -> None:
        name, compressed = format_for_key(self.obj.key)
        self.input = replace(self.input, format=name, compressed=compressed)
        fmt = self.make_format(name)
        text, encoding = open_text(open_binary(response["Body"], compressed=compressed))
        self.input = replace(self.input, encoding=encoding)
        try:
            records = fmt.records(text)  # reads the header, and with it the first block of text
        except UnicodeDecodeError as exc:  # UTF-16/32 must decode fully
            raise _wrong_encoding(encoding, exc, "near the start of the file") from None
        if name == "csv":
            self.input = replace(self.input, delimiter=getattr(fmt, "delimiter", ","))

        content_type = "application/gzip" if compressed else fmt.content_type
        meta = self.metadata()
        predictions = S3Upload(
            self.client, self.obj.bucket, self.keys.predictions, content_type, metadata=meta
        )
        errors = S3Upload(
            self.client, self.obj.bucket, self.keys.errors, "application/x-ndjson", metadata=meta
        )
        self.stage(predictions, errors)
        gzip = GzipWriter() if compressed else None

        def write(data: bytes) -> None:
            predictions.write(gzip.compress(data) if gzip else data)

        write(fmt.header())
        small = (response.get("ContentLength") or 0) < INLINE_BELOW_BYTES
        try:
            score_records(
                records,
                fmt,
                self.predictor,
                write,
                errors.write,
                chunk_rows=self.settings.batch_chunk_rows,
                workers=1 if small else self.settings.batch_workers,
                tally=self.tally,
                check_time=self.check_time,
            )
        except UnicodeDecodeError as exc:
            raise _wrong_encoding(encoding, exc, f"after {self.tally.read} records") from None
        if gzip:
            predictions.write(gzip.flush())
        tally = self.tally
        if tally.read != tally.scored + tally.rejected:  # a bug, never user error: refuse to publish
            raise BatchProcessingError(
                "accounting", f"rows read {tally.read} != scored {tally.scored} + rejected {tally.rejected}"
            )

    def stage(self, predictions: S3Upload, errors: S3Upload) -> None:
        """The outputs :meth:`publish` completes (any :class:`S3Upload`, e.g. a multipart copy);
        :meth:`abort` and a superseded run abort them."""
        self._uploads = [predictions, errors]
        self._predictions, self._errors = predictions, errors

    def abort(self) -> None:
        """Abort the staged outputs and reset the counts (before publishing a failure)."""
        for upload in self._uploads:
            upload.abort()
        self._uploads = []
        self.tally = Tally()

    # -- publishing ------------------------------------------------------------------------

    def observe(self) -> dict[str, str]:
        """ETag of each output object that exists now (listing: no s3:GetObject on outputs)."""
        wanted = {self.keys.predictions, self.keys.errors, self.keys.summary}
        found: dict[str, str] = {}
        paginator = self.client.get_paginator("list_objects_v2")
        for page in paginator.paginate(Bucket=self.obj.bucket, Prefix=self.keys.predictions):
            for item in page.get("Contents", []):
                if item["Key"] in wanted:
                    found[item["Key"]] = item["ETag"]
            if page.get("Contents") and page["Contents"][-1]["Key"] >= self.keys.summary:
                break
        return found

    def _condition(self, seen: dict[str, str], key: str) -> dict[str, str]:
        return {"IfMatch": seen[key]} if key in seen else {"IfNoneMatch": "*"}

    def _guard(self, action: Callable[[], str | None], key: str) -> None:
        try:
            version = action()
        except Exception as exc:
            if client_error_code(exc) in CONFLICT:
                raise _Conflict(key) from None
            raise
        self.written.append((key, version))

    def _put(self, key: str, body: bytes, content_type: str, seen: dict[str, str]) -> None:
        def put() -> str | None:
            response = self.client.put_object(
                Bucket=self.obj.bucket,
                Key=key,
                Body=body,
                ContentType=content_type,
                Metadata=self.metadata(),
                **self._condition(seen, key),
            )
            version: str | None = response.get("VersionId")
            return version

        self._guard(put, key)

    def _withdraw(self, seen: dict[str, str]) -> None:
        """Delete the predictions another input version left (a delete marker: kept as history)."""
        key = self.keys.predictions
        if key not in seen:
            return

        def delete() -> str | None:
            self.client.delete_object(Bucket=self.obj.bucket, Key=key, IfMatch=seen[key])
            return None

        try:
            delete()
        except Exception as exc:
            if client_error_code(exc) in CONFLICT:
                raise _Conflict(key) from None
            raise

    def publish(self, summary: Callable[[], BatchSummary], error_lines: bytes | None) -> BatchSummary:
        """Publish this run's outputs if its input version is still the current one.

        ``error_lines`` None: the scored outputs (those :meth:`stage` named: predictions,
        errors, then the summary); else a failure (``error_lines`` is the whole errors file,
        e.g. :func:`failure_line`): the predictions of any other version are withdrawn first,
        then the errors file and summary are written. ``summary`` makes the summary document
        once the outputs are written. Every write is conditional on the object it replaces
        being the one seen just before the version check, so a run that lost a race learns it
        (412) instead of overwriting newer outputs.

        Returns the summary published, or a ``superseded`` one (nothing of this run is left).
        Raises :class:`BatchProcessingError` (``publish_conflict``) when another run of the
        same version published meanwhile (a retry settles it), and S3's errors as they come.
        """
        seen = self.observe()
        if not self.current():
            return self.superseded()
        try:
            if error_lines is None:
                assert self._predictions is not None and self._errors is not None
                predictions, errors = self._predictions, self._errors
                self._guard(
                    lambda: predictions.complete(self._condition(seen, predictions.key)), predictions.key
                )
                self._guard(lambda: errors.complete(self._condition(seen, errors.key)), errors.key)
            else:
                self._withdraw(seen)
                self._put(self.keys.errors, error_lines, "application/x-ndjson", seen)
            result = summary()
            self._put(self.keys.summary, _json_bytes(result.document()), "application/json", seen)
            return result
        except _Conflict as conflict:
            if self.current():
                raise BatchProcessingError(
                    "publish_conflict",
                    f"another run published {conflict} while this one did; retrying the event",
                ) from None
            return self.superseded()

    def superseded(self) -> BatchSummary:
        """A newer version took over: undo exactly what this run published, by version id."""
        for upload in self._uploads:
            upload.abort()
        for key, version in reversed(self.written):
            if version is not None:
                self.client.delete_object(Bucket=self.obj.bucket, Key=key, VersionId=version)
        self.written = []
        logger.warning(
            "a newer version of the input is current; this event's version is not published",
            extra={"bucket": self.obj.bucket, "key": self.obj.key, "version_id": self.obj.version_id},
        )
        return self.summary("superseded")


def process_object(
    client: Any,
    predictor: Predictor,
    obj: S3Input,
    settings: Settings,
    *,
    remaining_seconds: Callable[[], float] | None = None,
) -> BatchSummary:
    """Score ``obj`` and write its outputs; returns the summary (also written to S3).

    Outputs only ever describe the key's current version. The rule:

    - an event whose version is no longer the key's current one (a later upload exists;
      events may arrive late or out of order) is ``superseded``: nothing is written;
    - an event whose version was deleted, or whose key was deleted, is ``skipped``;
    - publishing re-checks that the version is current, and every output write is a
      conditional write (``If-Match`` on the ETag seen, or ``If-None-Match: *``), so a
      run that raced a newer one cannot overwrite its outputs; it removes what it wrote
      (by version id) and reports ``superseded``;
    - each output carries the input ``VersionId`` (metadata ``input-version-id``, and the
      summary's ``input.version_id``); a ``failed`` run withdraws the predictions object
      (a delete marker) so another version's predictions never sit beside its summary.

    Status ``failed`` (the file cannot be read, or would not finish in time) writes the
    errors file and summary and returns: retrying could not change the outcome. Other
    failures (S3 errors, a crashed worker, a publishing race) publish the same failure
    when they can and raise :class:`BatchProcessingError`, so that Lambda retries the event.
    """
    run = ObjectRun(client, predictor, obj, settings, remaining_seconds)
    response: dict[str, Any] | None = None
    try:
        current = run.current()
        if current is False:
            return run.superseded()
        response = run.fetch() if current else None
        if response is None:
            logger.warning(
                "input object is gone; skipping this event",
                extra={"bucket": obj.bucket, "key": obj.key, "version_id": obj.version_id},
            )
            return run.summary("skipped")
        run.score(response)
    except UnreadableFileError as exc:
        run.abort()
        error = FileError(exc.reason, exc.message)
        result = run.publish(lambda: run.summary("failed", error), failure_line(error))
        if result.status == "failed":
            logger.error(
                "input file cannot be scored: %s",
                exc.message,
                extra={"bucket": obj.bucket, "key": obj.key, "reason": exc.reason},
            )
        return result
    except Exception as exc:
        run.abort()
        reason = exc.reason if isinstance(exc, BatchProcessingError) else type(exc).__name__
        message = exc.message if isinstance(exc, BatchProcessingError) else str(exc)
        failure = FileError(reason, message)
        try:
            run.publish(lambda: run.summary("failed", failure), failure_line(failure))
        except Exception as put_exc:
            logger.warning("could not write the failure summary: %s", put_exc)
        if isinstance(exc, BatchProcessingError):
            raise
        raise BatchProcessingError(reason, f"scoring {obj.key} failed: {message}") from exc
    finally:
        if response is not None:
            response["Body"].close()
    try:
        result = run.publish(lambda: run.summary("ok"), None)
    except Exception as exc:
        run.abort()
        if isinstance(exc, BatchProcessingError):
            raise
        raise BatchProcessingError(type(exc).__name__, f"publishing {obj.key} failed: {exc}") from exc
    if result.status == "ok":
        logger.info(
            "object scored",
            extra={
                "bucket": obj.bucket,
                "key": obj.key,
                "version_id": run.input.version_id,
                "rows_read": run.tally.read,
                "rows_scored": run.tally.scored,
                "rows_rejected": run.tally.rejected,
                "duration_seconds": result.duration_seconds,
            },
        )
    return result
