"""Routing in the S3-triggered batch function: score a file here, or start a fanned-out run.

A file whose object is larger than ``FANOUT_THRESHOLD_BYTES`` starts an execution of the
fan-out state machine instead of being scored in this invocation. The execution's name is
derived from bucket, key and version (:func:`execution_name`), and Step Functions refuses a
second execution of one name (``ExecutionAlreadyExists``; for 90 days), so a duplicate S3
event cannot start a second run. Gzip objects are never fanned out: a deflate stream cannot be
entered at a byte offset, so one function scores them whatever their size (a file too big for
its 15 minutes fails as ``time_limit``; upload it uncompressed to fan it out).
"""

from __future__ import annotations

import hashlib
import json
import logging
from typing import Any

from textclf.settings import Settings
from textclf_batch.errors import UnreadableFileError
from textclf_batch.formats import format_for_key
from textclf_batch.process import S3Input

logger = logging.getLogger(__name__)

NAME_PREFIX = "textclf-"


def execution_name(bucket: str, key: str, version: str | None) -> str:
    """A Step Functions execution name (at most 80 characters of ``[A-Za-z0-9_-]``) that only
    this object version maps to: ``textclf-`` and the SHA-256 of (bucket, key, version)."""
    digest = hashlib.sha256(json.dumps([bucket, key, version or ""]).encode("utf-8")).hexdigest()
    return NAME_PREFIX + digest[:64]


def should_fan_out(key: str, size: int | None, settings: Settings) -> bool:
    """Is this object fanned out (a state machine is configured, it is big, it can be split)?"""
    if not settings.fanout_state_machine_arn or not settings.fanout_threshold_bytes:
        return False
    if size is None or size <= settings.fanout_threshold_bytes:
        return False
    try:
        _, compressed = format_for_key(key)
    except UnreadableFileError:
        return False  # reported by the single-function path
    return not compressed


def start(sfn: Any, target: S3Input, settings: Settings) -> dict[str, Any]:
    """Start the run for ``target`` (or find it started); what the handler returns for it."""
    version = target.version_id if target.version_id not in (None, "null") else target.etag
    name = execution_name(target.bucket, target.key, version)
    document = {
        "bucket": target.bucket,
        "key": target.key,
        "version_id": target.version_id,
        "etag": target.etag,
        "sequencer": target.sequencer,
    }
    duplicate = False
    try:
        response = sfn.start_execution(
            stateMachineArn=settings.fanout_state_machine_arn, name=name, input=json.dumps(document)
        )
        arn = response["executionArn"]
    except Exception as exc:
        code = getattr(exc, "response", {}).get("Error", {}).get("Code")
        if code != "ExecutionAlreadyExists":
            raise
        duplicate = True
        arn = settings.fanout_state_machine_arn.replace(":stateMachine:", ":execution:") + f":{name}"
    logger.info(
        "file fanned out to the state machine",
        extra={"key": target.key, "version_id": target.version_id, "execution": name, "duplicate": duplicate},
    )
    return {"status": "fanned_out", "input": document, "execution_arn": arn, "duplicate": duplicate}
