"""Lambda handler of the fan-out's plan step (``textclf_fanout.plan_main.handler``).

Thin: passes the Step Functions payload to :func:`textclf_fanout.steps.plan`. The logger, the S3
client (:func:`textclf_fanout.startup.start_step`) and the settings are made once per container,
here at import; the planner needs no model and loads none.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from textclf.settings import get_settings
from textclf_fanout import steps
from textclf_fanout.startup import start_step

logger, s3 = start_step()
settings = get_settings()  # read once: a bad value fails the init, not each event


@logger.inject_lambda_context
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    """``{"input": <execution input>, "job_id": <execution name>}`` -> the plan (see steps.plan)."""
    return steps.plan(
        s3, event["input"], settings, event["job_id"], lambda: context.get_remaining_time_in_millis() / 1000
    )
