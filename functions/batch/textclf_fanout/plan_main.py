"""Lambda handler of the fan-out's plan step (``textclf_fanout.plan_main.handler``).

Thin: passes the Step Functions payload to :func:`textclf_fanout.steps.plan`. Settings and the S3
client are made once per container, here at import; the planner needs no model.
"""

from __future__ import annotations

from typing import Any

import boto3
from aws_lambda_powertools import Logger
from aws_lambda_powertools.logging.utils import copy_config_to_registered_loggers
from aws_lambda_powertools.utilities.typing import LambdaContext
from botocore.config import Config

from textclf.settings import get_settings
from textclf_fanout import steps

logger = Logger()
copy_config_to_registered_loggers(
    source_logger=logger, include={"textclf", "textclf_batch", "textclf_fanout"}
)

settings = get_settings()
s3 = boto3.client("s3", config=Config(retries={"mode": "standard", "total_max_attempts": 5}))


@logger.inject_lambda_context
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    """``{"input": <execution input>, "job_id": <execution name>}`` -> the plan (see steps.plan)."""
    return steps.plan(s3, event["input"], settings, event["job_id"])
