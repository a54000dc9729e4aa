"""Batch function: score every row of a CSV / JSON Lines file dropped under ``incoming/``.

Thin on purpose: parse the S3 event, decode each key, call
:func:`textclf.batch.process_object`. The model and the S3 client are created once
per container, here at import time.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import unquote_plus

import boto3
from aws_lambda_powertools import Logger
from aws_lambda_powertools.logging.utils import copy_config_to_registered_loggers
from aws_lambda_powertools.utilities.data_classes import S3Event, event_source
from aws_lambda_powertools.utilities.typing import LambdaContext

from textclf.batch import BatchProcessingError, S3Input, check_prefixes, process_object
from textclf.metrics import emit_batch_file
from textclf.model import get_predictor
from textclf.settings import get_settings

logger = Logger()
copy_config_to_registered_loggers(source_logger=logger, include={"textclf"})

settings = get_settings()
check_prefixes(settings)  # fail at start-up, not per file, if outputs could trigger the function
predictor = get_predictor()
s3 = boto3.client("s3")


@logger.inject_lambda_context
@event_source(data_class=S3Event)
def handler(event: S3Event, context: LambdaContext) -> dict[str, Any]:
    """Score each object in the event; fail the invocation if any file could not be scored.

    Failing (rather than returning) is what makes Lambda retry the event and, after the
    retries, send it to the on-failure destination: a bad file is never a silent success.
    """
    summaries = []
    for record in event.records:
        obj = record.s3.get_object
        target = S3Input(
            bucket=record.s3.bucket.name,
            key=unquote_plus(obj.key),
            version_id=obj.version_id,
            etag=obj.etag or None,
        )
        try:
            summary = process_object(
                s3,
                predictor,
                target,
                settings,
                remaining_seconds=lambda: context.get_remaining_time_in_millis() / 1000,
            )
        except Exception:
            emit_batch_file(None)  # metrics (EMF): the file failed; Lambda retries the event
            raise
        emit_batch_file(summary)  # metrics (EMF): rows read/scored/rejected, reasons, duration
        summaries.append(summary)
    failed = [s for s in summaries if s["status"] == "failed"]
    if failed:
        details = "; ".join(f"{s['input']['key']}: {s['error']['message']}" for s in failed)
        raise BatchProcessingError(
            "unreadable_input", f"{len(failed)} file(s) could not be scored: {details}"
        )
    return {"results": [{k: s[k] for k in ("status", "input", "outputs", "rows")} for s in summaries]}
