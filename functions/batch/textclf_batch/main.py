"""The Lambda handler (``textclf_batch.main.handler``): score every row of a CSV / JSON Lines
file dropped under ``incoming/``.

Thin on purpose: parse the S3 event, decode each key, call
:func:`textclf_batch.process_object`. The model and the S3 client are created once
per container, here at import time.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import unquote_plus

import boto3
from aws_lambda_powertools.utilities.data_classes import S3Event, event_source
from aws_lambda_powertools.utilities.typing import LambdaContext

from textclf.model import get_predictor
from textclf.settings import get_settings
from textclf_batch import BatchSummary, S3Input, process_object
from textclf_batch.metrics import emit_batch_file
from textclf_batch.runtime import start_function
from textclf_fanout.route import should_fan_out, start

logger, s3 = start_function({"textclf", "textclf_batch"})  # the S3 client retries (standard mode)
# read once; fails at start-up (not per file) on a bad value, or prefixes whose outputs could
# trigger the function again (a rule of Settings)
settings = get_settings()
predictor = get_predictor(settings)
# files over FANOUT_THRESHOLD_BYTES go to the fan-out state machine (textclf_fanout.route)
sfn = boto3.client("stepfunctions") if settings.fanout_state_machine_arn else None


@logger.inject_lambda_context
@event_source(data_class=S3Event)
def handler(event: S3Event, context: LambdaContext) -> dict[str, Any]:
    """Score each object in the event.

    A file that cannot be scored (unreadable, too slow) gets a ``failed`` summary and an
    ERROR log line, and the invocation succeeds: a retry could only fail the same way.
    Transient failures (S3 errors after botocore's own retries, a crashed worker, a
    publishing race) raise :class:`textclf_batch.BatchProcessingError`, so Lambda retries
    the event and, after its retries, sends it to the on-failure destination.
    """
    summaries: list[BatchSummary] = []
    fanned_out: list[dict[str, Any]] = []
    for record in event.records:
        obj = record.s3.get_object
        target = S3Input(
            bucket=record.s3.bucket.name,
            key=unquote_plus(obj.key),
            version_id=obj.version_id,
            etag=obj.etag or None,
            sequencer=obj.get("sequencer") or None,
        )
        if sfn is not None and should_fan_out(target.key, obj.size, settings):
            fanned_out.append(start(sfn, target, settings))
            continue
        summary = process_object(
            s3,
            predictor,
            target,
            settings,
            remaining_seconds=lambda: context.get_remaining_time_in_millis() / 1000,
        )
        emit_batch_file(summary)  # metrics (EMF): rows read/scored/rejected, reasons, duration
        summaries.append(summary)
    return {"results": [summary.result() for summary in summaries] + fanned_out}
