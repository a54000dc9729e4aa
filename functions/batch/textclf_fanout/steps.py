"""The steps of a fanned-out run, each a plain function of (S3 client, event) the handlers call.

``plan`` -> the Distributed Map runs ``score_range`` once per range -> ``merge`` (or, when a
step failed after its retries, ``record_failure``). Everything a run writes before publishing
lives under ``<WORK_PREFIX><job>/`` (``job``: the execution name, see :mod:`.route`); the merge
publishes through the single-function path's rule (:class:`textclf_batch.ObjectRun`: the
version check, conditional writes, a failed run withdrawing the predictions) and then deletes
the work objects (every version: the bucket is versioned).

Outputs are the single-function path's, byte for byte: the first range writes the header and
each range its rows in input order; the merge concatenates them with ``UploadPartCopy`` and
renumbers the errors of each range by the lines and rows of the ranges before it.
"""

from __future__ import annotations

import io
import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from dataclasses import fields as dataclass_fields
from typing import Any, cast

from textclf.model import Predictor
from textclf.settings import Settings
from textclf_batch.errors import BatchProcessingError, UnreadableFileError
from textclf_batch.formats import format_for_key
from textclf_batch.process import (
    TIME_MARGIN_SECONDS,
    BatchSummary,
    FileError,
    ObjectRun,
    S3Input,
    client_error_code,
    failure_line,
)
from textclf_batch.s3io import S3Upload
from textclf_batch.scoring import Tally, json_line, score_records
from textclf_batch.streams import GzipWriter, chained, open_binary, open_text
from textclf_fanout.copy import MultipartCopy
from textclf_fanout.plan import Plan, Read, ReadStream, TooLargeToPlanError, plan_object
from textclf_fanout.ranges import LineCounter, prefix_for, range_records, shift_error

logger = logging.getLogger(__name__)

ERRORS_TYPE = "application/x-ndjson"


def _target(job: dict[str, Any]) -> S3Input:
    return S3Input(
        bucket=job["bucket"],
        key=job["key"],
        version_id=job.get("version_id"),
        etag=job.get("etag"),
        sequencer=job.get("sequencer"),
    )


def work_prefix(settings: Settings, job: str) -> str:
    """``<WORK_PREFIX><job>/``, refusing a work prefix that could trigger or hide among outputs."""
    work = settings.work_prefix
    for other in (settings.input_prefix, settings.output_prefix):
        if not work or work.startswith(other) or other.startswith(work):
            raise BatchProcessingError(
                "work_prefix", f"WORK_PREFIX ({work!r}) may neither contain nor be inside {other!r}"
            )
    return f"{work}{job}/"


class ObjectReader:
    """``read(start, end)`` over one object version: sequential reads share one GET stream."""

    def __init__(self, client: Any, obj: S3Input, size: int) -> None:
        self._client, self._obj, self._size = client, obj, size
        self._body: Any = None
        self._pos = -1
        self.requests = 0

    def __call__(self, start: int, end: int) -> bytes:
        end = min(end, self._size)
        if start >= end:
            return b""
        if self._body is None or self._pos != start:
            self.close()
            self._body = self._get(start)
            self._pos = start
        data: bytes = self._body.read(end - start)
        self._pos += len(data)
        return data

    def _get(self, start: int) -> Any:
        kwargs: dict[str, Any] = {
            "Bucket": self._obj.bucket,
            "Key": self._obj.key,
            "Range": f"bytes={start}-",
        }
        if self._obj.version_id:
            kwargs["VersionId"] = self._obj.version_id
        self.requests += 1
        return self._client.get_object(**kwargs)["Body"]

    def close(self) -> None:
        if self._body is not None:
            self._body.close()
            self._body = None


# -- plan ----------------------------------------------------------------------------------------


def plan(
    client: Any,
    event: dict[str, Any],
    settings: Settings,
    job: str,
    remaining_seconds: Callable[[], float] | None = None,
) -> dict[str, Any]:
    """Check the version, cut the object into ranges, write the plan; what the map reads.

    ``status``: ``planned`` (``plan_key`` names the JSON array of ranges the map reads),
    ``refused`` (a CSV object over ``FANOUT_CSV_MAX_BYTES``, refused before its scan, or whose
    scan would not finish: under :data:`TIME_MARGIN_SECONDS` of ``remaining_seconds`` left; no
    plan is written, ``job.refused`` holds the error ``{"reason": "too_large", "message"}`` that
    the publish step publishes as the file's ``failed`` summary),
    ``superseded`` or ``skipped`` (the single-function path's meanings: nothing is written).
    """
    obj = _target(event)
    run = ObjectRun(client, cast(Predictor, None), obj, settings, None)
    current = run.current()
    if not current:
        return {"status": "superseded" if current is False else "skipped"}
    kwargs: dict[str, Any] = {"Bucket": obj.bucket, "Key": obj.key}
    if obj.version_id:
        kwargs["VersionId"] = obj.version_id
    head = client.head_object(**kwargs)
    size = int(head["ContentLength"])
    version = head.get("VersionId") or obj.version_id
    obj = S3Input(obj.bucket, obj.key, version, str(head.get("ETag", "")).strip('"'), obj.sequencer)
    try:
        kind, compressed = format_for_key(obj.key)
    except UnreadableFileError:
        kind, compressed = "csv", False  # the range worker reports unsupported_file_type
    reader = ObjectReader(client, obj, size)
    read: Read = reader
    if remaining_seconds is not None and kind == "csv":

        def read(start: int, end: int) -> bytes:  # one call per block of the scan
            if remaining_seconds() < TIME_MARGIN_SECONDS:
                raise TooLargeToPlanError.out_of_time(
                    size, start, TIME_MARGIN_SECONDS, settings.fanout_csv_max_bytes
                )
            return reader(start, end)

    def delimiter(stream: ReadStream) -> str | None:
        fmt = run.make_format("csv")
        try:
            fmt.records(open_text(open_binary(stream, compressed=False))[0])
        except (UnreadableFileError, UnicodeDecodeError):
            return None
        return str(getattr(fmt, "delimiter", ","))

    started = time.monotonic()
    prefix = work_prefix(settings, job)
    job_facts = {
        "bucket": obj.bucket,
        "key": obj.key,
        "version_id": obj.version_id,
        "etag": obj.etag,
        "sequencer": obj.sequencer,
        "size": size,
    }
    try:
        result: Plan = plan_object(
            read,
            size,
            kind,
            compressed,
            settings.fanout_range_bytes,
            delimiter,
            csv_max_bytes=settings.fanout_csv_max_bytes,
        )
    except TooLargeToPlanError as exc:
        # the publish step writes the failed summary (the state machine's Choice -> Merge)
        logger.warning("object refused", extra={"key": obj.key, "size": size, "reason": exc.reason})
        refusal = {"reason": exc.reason, "message": exc.message}
        return {
            "status": "refused",
            "bucket": obj.bucket,
            "job": {**job_facts, "header_end": 0, "ranges": 0, "work": prefix, "refused": refusal},
        }
    finally:
        reader.close()
    items = [{"index": r.index, "start": r.start, "end": r.end} for r in result.ranges]
    plan_key = f"{prefix}plan.json"
    client.put_object(
        Bucket=obj.bucket, Key=plan_key, Body=json.dumps(items).encode(), ContentType="application/json"
    )
    logger.info(
        "object planned",
        extra={
            "key": obj.key,
            "ranges": len(items),
            "unsplit_reason": result.unsplit_reason,
            "plan_seconds": round(time.monotonic() - started, 3),
        },
    )
    return {
        "status": "planned",
        "bucket": obj.bucket,
        "plan_key": plan_key,
        "max_concurrency": settings.fanout_max_concurrency,
        "job": {**job_facts, "header_end": result.header_end, "ranges": len(items), "work": prefix},
    }


# -- score one range -------------------------------------------------------------------------------


def _range_keys(job: dict[str, Any], index: int) -> tuple[str, str, str]:
    base = f"{job['work']}ranges/{index:06d}"
    return f"{base}.out", f"{base}.errors.jsonl", f"{base}.json"


def score_range(
    client: Any,
    predictor: Predictor,
    event: dict[str, Any],
    settings: Settings,
    remaining_seconds: Any = None,
) -> dict[str, Any]:
    """Score bytes ``[start, end)`` of the object; write its rows, errors and counts to the work
    prefix. A file-level problem (:class:`UnreadableFileError`) is a result, not an error: the
    merge publishes it as the run's failure. Anything else raises, so the map retries the range."""
    job, item = event["job"], event["range"]
    obj = _target(job)
    index, start, end = int(item["index"]), int(item["start"]), int(item["end"])
    out_key, errors_key, manifest_key = _range_keys(job, index)
    run = ObjectRun(client, predictor, obj, settings, None)
    info: dict[str, Any] = {}
    uploads: list[S3Upload] = []
    counter: LineCounter | None = None
    try:
        kind, compressed = format_for_key(obj.key)
        info.update(format=kind, compressed=compressed)
        fmt = run.make_format(kind)
        body: Any = io.BytesIO(b"")
        if end > start:
            body = (
                client.get_object(
                    Bucket=obj.bucket, Key=obj.key, VersionId=obj.version_id, Range=f"bytes={start}-{end - 1}"
                )["Body"]
                if obj.version_id
                else client.get_object(
                    Bucket=obj.bucket, Key=obj.key, Range=f"bytes={start}-{end - 1}", IfMatch=f'"{obj.etag}"'
                )["Body"]
            )
        header = b""
        if index and kind == "csv":
            header = ObjectReader(client, obj, int(job["size"]))(0, int(job["header_end"]))
        prefix = prefix_for(kind, index, header)
        counter = LineCounter(body)
        source = open_binary(counter, compressed=True) if compressed else chained(prefix, counter)
        text, encoding = open_text(source)
        info["encoding"] = encoding
        try:
            records = range_records(fmt, text, kind, prefix)
        except UnicodeDecodeError as exc:
            raise UnreadableFileError(
                "wrong_encoding", f"the file is not valid {encoding} ({exc.reason})"
            ) from None
        if kind == "csv":
            info["delimiter"] = getattr(fmt, "delimiter", ",")
        predictions = S3Upload(client, obj.bucket, out_key, "application/octet-stream")
        errors = S3Upload(client, obj.bucket, errors_key, ERRORS_TYPE)
        uploads = [predictions, errors]
        gzip = GzipWriter() if compressed else None

        def write(data: bytes) -> None:
            predictions.write(gzip.compress(data) if gzip else data)

        if index == 0:
            write(fmt.header())
        counts = Tally()
        try:
            score_records(
                records,
                fmt,
                predictor,
                write,
                errors.write,
                chunk_rows=settings.batch_chunk_rows,
                workers=settings.batch_workers,
                tally=counts,
                check_time=lambda: _check_time(remaining_seconds),
            )
        except UnicodeDecodeError as exc:
            raise UnreadableFileError(
                "wrong_encoding",
                f"the file is not valid UTF-16/UTF-32 ({exc.reason} after {counts.read} records)",
            ) from None
        if gzip:
            predictions.write(gzip.flush())
        predictions.complete()
        errors.complete()
        manifest: dict[str, Any] = {
            "index": index,
            "status": "ok",
            "lines": counter.total(),
            "read": counts.read,
            "scored": counts.scored,
            "rejected": counts.rejected,
            "blank": counts.blank,
            "reasons": dict(counts.reasons),
            "predictions_bytes": predictions.bytes_written,
            "info": info,
        }
    except UnreadableFileError as exc:
        for upload in uploads:
            upload.abort()
        manifest = {
            "index": index,
            "status": "failed",
            "error": {"reason": exc.reason, "message": exc.message},
        }
    except Exception:
        for upload in uploads:
            upload.abort()
        raise
    client.put_object(
        Bucket=obj.bucket,
        Key=manifest_key,
        Body=json.dumps(manifest).encode(),
        ContentType="application/json",
    )
    return {"index": index, "status": manifest["status"]}


def _check_time(remaining_seconds: Any) -> None:
    if remaining_seconds is not None and remaining_seconds() < TIME_MARGIN_SECONDS:
        raise BatchProcessingError(
            "time_limit",
            f"a range did not finish within the Lambda time limit (under {TIME_MARGIN_SECONDS:.0f} s left); "
            "lower FANOUT_RANGE_BYTES or give the function more memory",
        )


# -- merge and publish ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class FanoutSummary(BatchSummary):
    """A fanned-out file's summary: the single-function one plus the run (execution, ranges)."""

    execution_arn: str = ""
    ranges: int = 0

    def document(self) -> dict[str, Any]:
        document = BatchSummary.document(self)
        document["fanout"] = {"execution_arn": self.execution_arn, "ranges": self.ranges}
        return document


def _with_run_facts(summary: BatchSummary, execution_arn: str, ranges: int) -> BatchSummary:
    fields = {f.name: getattr(summary, f.name) for f in dataclass_fields(BatchSummary)}
    return FanoutSummary(**fields, execution_arn=execution_arn, ranges=ranges)


class IncompleteRunError(BatchProcessingError):
    """A range left no result: the map did not score every range (never retried: a retry of the
    merge could not bring it back; the run fails and publishes nothing)."""


def _manifests(client: Any, job: dict[str, Any]) -> list[dict[str, Any]]:
    found = []
    for index in range(int(job["ranges"])):
        _, _, key = _range_keys(job, index)
        try:
            body = client.get_object(Bucket=job["bucket"], Key=key)["Body"].read()
        except Exception as exc:
            if client_error_code(exc) in ("NoSuchKey", "404"):
                raise IncompleteRunError(
                    "incomplete", f"range {index} of {job['ranges']} left no result"
                ) from None
            raise
        found.append(json.loads(body))
    return found


def merge(
    client: Any, predictor: Predictor, event: dict[str, Any], settings: Settings, execution_arn: str
) -> BatchSummary:
    """Concatenate the ranges' outputs into ``predictions/<key>`` and its errors file, publish
    them and the summary under the single-function path's version rule, delete the work objects.
    A file-level failure (a range's, or the plan step's refusal in ``job.refused``) is published
    as the file's ``failed`` summary instead."""
    job = event["job"]
    obj = _target(job)
    run = ObjectRun(client, predictor, obj, settings, None)
    result = _merge(client, run, job, execution_arn)
    delete_work(client, obj.bucket, job["work"])  # not on an exception: a retry needs them
    return result


def _merge(client: Any, run: ObjectRun, job: dict[str, Any], execution_arn: str) -> BatchSummary:
    obj = run.obj
    run.input = replace(run.input, size=job["size"])
    refused = job.get("refused")  # by the plan step, before any range was made
    manifests = [] if refused else _manifests(client, job)
    failed = refused or next((m["error"] for m in manifests if m["status"] != "ok"), None)
    if failed is not None:
        error = FileError(failed["reason"], failed["message"])
        result = run.publish(
            lambda: _with_run_facts(run.summary("failed", error), execution_arn, len(manifests)),
            failure_line(error),
        )
        return result
    info = manifests[0]["info"]
    run.input = replace(
        run.input,
        format=info["format"],
        compressed=info["compressed"],
        encoding=info.get("encoding"),
        delimiter=info.get("delimiter"),
    )
    fmt = run.make_format(info["format"])
    meta = run.metadata()
    content_type = "application/gzip" if info["compressed"] else fmt.content_type
    sources = [(_range_keys(job, m["index"])[0], int(m["predictions_bytes"])) for m in manifests]
    predictions = MultipartCopy(client, obj.bucket, run.keys.predictions, content_type, sources, meta)
    errors = S3Upload(client, obj.bucket, run.keys.errors, ERRORS_TYPE, metadata=meta)
    lines = rows = 0
    tally = run.tally
    for manifest in manifests:
        _, errors_key, _ = _range_keys(job, manifest["index"])
        if manifest["rejected"]:
            body = client.get_object(Bucket=obj.bucket, Key=errors_key)["Body"]
            for raw in body.iter_lines():
                errors.write(json_line(shift_error(json.loads(raw), lines, rows)))
        lines += int(manifest["lines"])
        rows += int(manifest["read"])
        tally.read += int(manifest["read"])
        tally.scored += int(manifest["scored"])
        tally.rejected += int(manifest["rejected"])
        tally.blank += int(manifest["blank"])
        tally.reasons.update(manifest["reasons"])
    if tally.read != tally.scored + tally.rejected:
        raise BatchProcessingError(
            "accounting", f"rows read {tally.read} != scored {tally.scored} + rejected {tally.rejected}"
        )
    run.stage(predictions, errors)
    return run.publish(lambda: _with_run_facts(run.summary("ok"), execution_arn, len(manifests)), None)


def record_failure(
    client: Any, predictor: Predictor, event: dict[str, Any], settings: Settings, execution_arn: str
) -> BatchSummary:
    """A step failed after its retries: publish a ``failed`` summary (withdrawing any predictions
    of another version, as the single-function path does) and delete the work objects."""
    failure = event.get("failure") or {}
    state = event["input"]  # the execution's state when the step failed
    job = ((state.get("planned") or {}).get("plan") or {}).get("job") or state
    run = ObjectRun(client, predictor, _target(job), settings, None)
    step_error = str(failure.get("Error") or "States.Runtime")
    error = FileError(
        "fanout_failed",
        f"a step of the fanned-out run failed after its retries ({step_error}); nothing was "
        "published. The execution's history names the step",
    )
    try:
        return run.publish(
            lambda: _with_run_facts(run.summary("failed", error), execution_arn, int(job.get("ranges", 0))),
            failure_line(error),
        )
    finally:
        delete_work(client, job["bucket"], job.get("work") or work_prefix(settings, event["job_id"]))


def delete_work(client: Any, bucket: str, prefix: str) -> None:
    """Delete every version (and delete marker) under ``prefix``; the lifecycle rule is the net."""
    paginator = client.get_paginator("list_object_versions")
    for page in paginator.paginate(Bucket=bucket, Prefix=prefix):
        doomed = [
            {"Key": v["Key"], "VersionId": v["VersionId"]}
            for v in [*page.get("Versions", []), *page.get("DeleteMarkers", [])]
        ]
        for i in range(0, len(doomed), 1000):
            client.delete_objects(Bucket=bucket, Delete={"Objects": doomed[i : i + 1000], "Quiet": True})
