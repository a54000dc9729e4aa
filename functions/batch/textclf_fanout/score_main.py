"""Lambda handler of the fan-out's range step (``textclf_fanout.score_main.handler``).

Thin: passes one map item to :func:`textclf_fanout.steps.score_range`. Settings, the model and
the S3 client are made once per container, here at import.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from textclf.model import get_predictor
from textclf.settings import get_settings
from textclf_fanout import steps
from textclf_fanout.startup import start_step

logger, s3 = start_step()
settings = get_settings()  # read once: a bad value fails the init, not each event
predictor = get_predictor(settings)


@logger.inject_lambda_context
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    """``{"range": {"index", "start", "end"}, "job": {...}}`` -> ``{"index", "status"}``."""
    return steps.score_range(
        s3, predictor, event, settings, lambda: context.get_remaining_time_in_millis() / 1000
    )
