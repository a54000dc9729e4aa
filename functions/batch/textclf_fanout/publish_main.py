"""Lambda handler of the fan-out's last step (``textclf_fanout.publish_main.handler``).

Thin: merges and publishes the ranges (:func:`textclf_fanout.steps.merge`) or, when the event
carries a ``failure``, publishes the failed summary (:func:`textclf_fanout.steps.record_failure`);
emits the file's metrics as the batch function does. Settings, the model (for the summary's model
version) and the S3 client are made once per container, here at import.
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
copy_config_to_registered_loggers(
    source_logger=logger, include={"textclf", "textclf_batch", "textclf_fanout"}
)

settings = get_settings()
predictor = get_predictor(settings)
s3 = boto3.client("s3", config=Config(retries={"mode": "standard", "total_max_attempts": 5}))


@logger.inject_lambda_context
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    """``{"job", "execution_arn"}`` or ``{"input", "failure", "job_id", "execution_arn"}`` -> the
    published summary's status, outputs, rows and error."""
    if "failure" in event:
        summary = steps.record_failure(s3, predictor, event, settings, event["execution_arn"])
    else:
        summary = steps.merge(s3, predictor, event, settings, event["execution_arn"])
    emit_batch_file(summary)
    return summary.result()
