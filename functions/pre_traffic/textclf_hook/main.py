"""Pre-traffic hook: CodeDeploy invokes this before shifting the API's ``live`` alias to a new
version. It checks that version (``TARGET_FUNCTION_ARN``) with :func:`textclf_hook.check.pre_traffic_check`
against the model layer it shares with it, and reports the result to CodeDeploy."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import boto3
from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.typing import LambdaContext

from textclf.settings import SettingsError, get_settings
from textclf_hook.check import pre_traffic_check, report_to_codedeploy

logger = Logger()
settings = get_settings()
if not settings.target_function_arn:
    raise SettingsError("TARGET_FUNCTION_ARN is not set: the template sets it to the API version to check")
lambda_client = boto3.client("lambda")
codedeploy = boto3.client("codedeploy")


@logger.inject_lambda_context
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    """Check the new version, then report Succeeded or Failed for this lifecycle hook."""
    result = pre_traffic_check(
        lambda_client,
        settings.target_function_arn,
        Path(settings.model_dir),
        tolerance=settings.smoke_tolerance,
        max_batch_size=settings.max_batch_size,
        max_text_chars=settings.max_text_chars,
    )
    if result.passed:
        logger.info("new version passed the pre-traffic check", extra=result.as_dict())
    else:
        logger.error("new version failed the pre-traffic check", extra=result.as_dict())
    report_to_codedeploy(codedeploy, event, result.passed)
    return result.as_dict()
