"""Lambda handlers of the fan-out's steps (``textclf_fanout.handlers.plan`` and so on).

Thin: each passes its Step Functions payload to a function of :mod:`textclf_fanout.steps`.
Settings and the S3 client are made once per container at import; the model is loaded, once,
by the steps that score or summarise (``get_predictor`` caches it), not by the planner.
"""

from __future__ import annotations

from typing import Any

import boto3
from aws_lambda_powertools import Logger
from aws_lambda_powertools.logging.utils import copy_config_to_registered_loggers
from aws_lambda_powertools.utilities.typing import LambdaContext
from botocore.config import Config

from textclf.model import get_predictor
from textclf.settings import get_settings
from textclf_batch.metrics import emit_batch_file
from textclf_fanout import steps

logger = Logger()
copy_config_to_registered_loggers(source_logger=logger, include={"textclf", "textclf_fanout"})

settings = get_settings()
s3 = boto3.client("s3", config=Config(retries={"mode": "standard", "total_max_attempts": 5}))


def _result(document: dict[str, Any]) -> dict[str, Any]:
    return {k: document.get(k) for k in ("status", "outputs", "rows", "error")}


@logger.inject_lambda_context
def plan(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    """``{"input": <execution input>, "job_id": <execution name>}`` -> the plan (see steps.plan)."""
    return steps.plan(s3, event["input"], settings, event["job_id"])


@logger.inject_lambda_context
def score_range(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    """``{"range": {"index", "start", "end"}, "job": {...}}`` -> ``{"index", "status"}``."""
    return steps.score_range(
        s3, get_predictor(), event, settings, lambda: context.get_remaining_time_in_millis() / 1000
    )


@logger.inject_lambda_context
def publish(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    """The last step: ``{"job", "execution_arn"}`` merges and publishes the ranges (steps.merge);
    with ``"failure"`` (a step failed after its retries) publishes the failed summary
    (steps.record_failure). Returns the summary's status, outputs, rows and error."""
    if "failure" in event:
        summary = steps.record_failure(s3, get_predictor(), event, settings, event["execution_arn"])
    else:
        summary = steps.merge(s3, get_predictor(), event, settings, event["execution_arn"])
    emit_batch_file(summary.document)
    return _result(summary.document)
