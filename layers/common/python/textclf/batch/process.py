"""Score one S3 object end to end: stream it in, score it in chunks, stream the results out.

For ``incoming/<path>`` this writes, in this order:

- ``predictions/<path>``: the scored rows, same format (and compression) as the input;
- ``predictions/<path>.errors.jsonl``: one line per rejected row (line number, reason);
- ``predictions/<path>.summary.json``: counts, model version, input version, duration.

The first two are completed together only after every row is accounted for, and
the summary is written last, so a reader that sees the summary sees complete
outputs. The outputs depend only on the input version, the model and the
settings: processing the same object version again rewrites identical bytes.
"""

from __future__ import annotations

import json
import logging
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from textclf.batch.errors import BatchProcessingError, UnreadableFileError
from textclf.batch.formats import Blank, Rejected, Row, format_for_key, make_format
from textclf.batch.s3io import S3Upload
from textclf.batch.scoring import make_scorer
from textclf.batch.streams import GzipWriter, open_binary, physical_lines
from textclf.model import Predictor
from textclf.settings import Settings, SettingsError, get_settings

logger = logging.getLogger(__name__)

TIME_MARGIN_SECONDS = 30.0  # stop (and fail cleanly) when less than this is left of the Lambda timeout
INLINE_BELOW_BYTES = 256 * 1024  # small objects: starting worker processes costs more than it saves
GONE = {"NoSuchKey", "NoSuchVersion", "PreconditionFailed", "412"}


@dataclass(frozen=True, slots=True)
class S3Input:
    """The object an event points at (key already URL-decoded)."""

    bucket: str
    key: str
    version_id: str | None = None
    etag: str | None = None


@dataclass(frozen=True, slots=True)
class OutputKeys:
    predictions: str
    errors: str
    summary: str


def output_keys(key: str, settings: Settings) -> OutputKeys:
    """Where the outputs of ``incoming/<path>`` go; refuses keys outside the input prefix."""
    check_prefixes(settings)
    if not key.startswith(settings.input_prefix):
        raise BatchProcessingError(
            "outside_input_prefix", f"key is not under {settings.input_prefix!r}; refusing to process it"
        )
    target = settings.output_prefix + key[len(settings.input_prefix) :]
    return OutputKeys(target, f"{target}.errors.jsonl", f"{target}.summary.json")


def check_prefixes(settings: Settings) -> None:
    """Outputs must never land where they would trigger the function again."""
    inp, out = settings.input_prefix, settings.output_prefix
    if not inp or not out or inp.startswith(out) or out.startswith(inp):
        raise SettingsError(
            f"INPUT_PREFIX ({inp!r}) and OUTPUT_PREFIX ({out!r}) must be non-empty and neither may "
            "contain the other, or outputs could trigger the function again"
        )


def _json_bytes(value: Any) -> bytes:
    return (json.dumps(value, ensure_ascii=False, indent=2, sort_keys=False) + "\n").encode("utf-8")


def _client_error_code(exc: Exception) -> str | None:
    response = getattr(exc, "response", None)
    if isinstance(response, dict):
        code = response.get("Error", {}).get("Code")
        return str(code) if code is not None else None
    return None


class _Run:
    """State of one object's scoring: uploads, counters, and the summary they produce."""

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
        self.read = self.scored = self.rejected = self.blank = 0
        self.reasons: Counter[str] = Counter()
        self.input_info: dict[str, Any] = {
            "bucket": obj.bucket,
            "key": obj.key,
            "version_id": obj.version_id,
            "etag": obj.etag,
        }
        self.uploads: list[S3Upload] = []

    def summary(self, status: str, error: dict[str, str] | None = None) -> dict[str, Any]:
        return {
            "status": status,
            "input": self.input_info,
            "outputs": {
                "predictions": self.keys.predictions if status == "ok" else None,
                "errors": self.keys.errors,
                "summary": self.keys.summary,
            },
            "rows": {"read": self.read, "scored": self.scored, "rejected": self.rejected},
            "rejected_by_reason": dict(sorted(self.reasons.items())),
            "blank_lines": self.blank,
            "model_version": self.predictor.version,
            "backend": self.predictor.backend,
            "settings": {
                "text_column": self.settings.text_column,
                "max_text_chars": self.settings.max_text_chars,
            },
            "error": error,
            "duration_seconds": round(time.monotonic() - self.started, 3),
        }

    def put_json(self, key: str, value: Any) -> None:
        self.client.put_object(
            Bucket=self.obj.bucket, Key=key, Body=_json_bytes(value), ContentType="application/json"
        )

    def put_json_lines(self, key: str, values: list[dict[str, Any]]) -> None:
        body = b"".join(_json_bytes_line(v) for v in values)
        self.client.put_object(Bucket=self.obj.bucket, Key=key, Body=body, ContentType="application/x-ndjson")

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
            if _client_error_code(exc) in GONE:
                return None
            raise
        self.input_info.update(
            version_id=response.get("VersionId") or self.obj.version_id,
            etag=str(response.get("ETag", self.obj.etag or "")).strip('"'),
            size=response.get("ContentLength"),
        )
        return response

    def check_time(self) -> None:
        if self.remaining_seconds is not None and self.remaining_seconds() < TIME_MARGIN_SECONDS:
            raise BatchProcessingError(
                "time_limit",
                f"stopped with under {TIME_MARGIN_SECONDS:.0f} s of the Lambda time limit left after "
                f"{self.read} rows; nothing was published. Give the function more memory (more vCPUs) "
                "or split the file",
            )

    def score(self, response: dict[str, Any]) -> None:
        name, compressed = format_for_key(self.obj.key)
        self.input_info.update(format=name, compressed=compressed)
        fmt = make_format(
            name, self.settings.text_column, self.settings.max_text_chars, self.settings.max_line_bytes
        )
        stream = open_binary(response["Body"], compressed=compressed)
        records = fmt.records(physical_lines(stream, self.settings.max_line_bytes))

        content_type = "application/gzip" if compressed else fmt.content_type
        predictions = S3Upload(self.client, self.obj.bucket, self.keys.predictions, content_type)
        errors = S3Upload(self.client, self.obj.bucket, self.keys.errors, "application/x-ndjson")
        self.uploads = [predictions, errors]
        gzip = GzipWriter() if compressed else None

        def write(data: bytes) -> None:
            predictions.write(gzip.compress(data) if gzip else data)

        def chunks() -> Iterator[tuple[list[Row], list[str]]]:
            rows: list[Row] = []
            size = self.settings.batch_chunk_rows
            for record in records:
                if isinstance(record, Row):
                    self.read += 1
                    rows.append(record)
                    if len(rows) >= size:
                        self.check_time()
                        yield rows, [r.text for r in rows]
                        rows = []
                elif isinstance(record, Rejected):
                    self.read += 1
                    self.rejected += 1
                    self.reasons[record.reason] += 1
                    errors.write(_json_bytes_line(record.as_json(self.read)))
                elif isinstance(record, Blank):
                    self.blank += 1
            if rows:
                self.check_time()
                yield rows, [r.text for r in rows]

        write(fmt.header())
        classes = self.predictor.classes
        small = (response.get("ContentLength") or 0) < INLINE_BELOW_BYTES
        scorer = make_scorer(self.predictor, 1 if small else self.settings.batch_workers)
        try:
            for rows, scores in scorer.map(chunks()):
                write(fmt.encode(rows, scores, classes))
                self.scored += len(rows)
        finally:
            scorer.close()
        if gzip:
            predictions.write(gzip.flush())
        if self.read != self.scored + self.rejected:  # a bug, never user error: refuse to publish
            raise BatchProcessingError(
                "accounting", f"rows read {self.read} != scored {self.scored} + rejected {self.rejected}"
            )
        predictions.complete()
        errors.complete()

    def abort(self) -> None:
        for upload in self.uploads:
            upload.abort()
        self.read = self.scored = self.rejected = self.blank = 0
        self.reasons.clear()


def _json_bytes_line(value: dict[str, Any]) -> bytes:
    return (json.dumps(value, ensure_ascii=False, separators=(",", ":")) + "\n").encode("utf-8")


def process_object(
    client: Any,
    predictor: Predictor,
    obj: S3Input,
    settings: Settings | None = None,
    *,
    remaining_seconds: Callable[[], float] | None = None,
) -> dict[str, Any]:
    """Score ``obj`` and write its outputs; returns the summary (also written to S3).

    - status ``ok``: every row was scored or reported in the errors file;
    - status ``failed`` (the file cannot be read as CSV/JSON Lines): no predictions are
      published, the errors file and summary say why;
    - status ``skipped``: the object version is gone or was replaced (its newer version
      has its own event); nothing is written.

    Other failures (S3 errors, a crashed worker, the time limit) abort the uploads,
    write a ``failed`` summary when possible and raise :class:`BatchProcessingError`,
    so that Lambda retries the event.
    """
    settings = settings or get_settings()
    run = _Run(client, predictor, obj, settings, remaining_seconds)
    response: dict[str, Any] | None = None
    try:
        response = run.fetch()
        if response is None:
            logger.warning(
                "input object is gone or was replaced; skipping this event",
                extra={"bucket": obj.bucket, "key": obj.key, "version_id": obj.version_id},
            )
            return run.summary("skipped")
        run.score(response)
    except UnreadableFileError as exc:
        run.abort()
        error = {"reason": exc.reason, "message": exc.message}
        run.put_json_lines(run.keys.errors, [{"line": None, **error}])
        summary = run.summary("failed", error)
        run.put_json(run.keys.summary, summary)
        logger.error(
            "input file cannot be read: %s",
            exc.message,
            extra={"bucket": obj.bucket, "key": obj.key, "reason": exc.reason},
        )
        return summary
    except Exception as exc:
        run.abort()
        reason = exc.reason if isinstance(exc, BatchProcessingError) else type(exc).__name__
        message = exc.message if isinstance(exc, BatchProcessingError) else str(exc)
        try:
            run.put_json(run.keys.summary, run.summary("failed", {"reason": reason, "message": message}))
        except Exception as put_exc:
            logger.warning("could not write the failure summary: %s", put_exc)
        if isinstance(exc, BatchProcessingError):
            raise
        raise BatchProcessingError(reason, f"scoring {obj.key} failed: {message}") from exc
    finally:
        if response is not None:
            response["Body"].close()
    summary = run.summary("ok")
    run.put_json(run.keys.summary, summary)
    logger.info(
        "object scored",
        extra={
            "bucket": obj.bucket,
            "key": obj.key,
            "rows_read": run.read,
            "rows_scored": run.scored,
            "rows_rejected": run.rejected,
            "duration_seconds": summary["duration_seconds"],
        },
    )
    return summary
