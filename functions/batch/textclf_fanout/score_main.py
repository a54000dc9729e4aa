"""Lambda handler of the fan-out's range step (``textclf_fanout.score_main.handler``).

Thin: passes one map item to :func:`textclf_fanout.steps.score_range`. Settings, the model and
the S3 client are made once per container, here at import.
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
    """``{"range": {"index", "start", "end"}, "job": {...}}`` -> ``{"index", "status"}``."""
    return steps.score_range(
        s3, predictor, event, settings, lambda: context.get_remaining_time_in_millis() / 1000
    )
