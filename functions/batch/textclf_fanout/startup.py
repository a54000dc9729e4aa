"""The start-up the fan-out's three step handlers share (``plan_main``, ``score_main``,
``publish_main``): made once per container, at import."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger

from textclf.settings import Settings
from textclf_batch.runtime import start_function

STEP_LOGGERS = {"textclf", "textclf_batch", "textclf_fanout"}


def start_step() -> tuple[Logger, Settings, Any]:
    """The logger (its configuration shared by the :data:`STEP_LOGGERS` packages' loggers), the
    settings and the S3 client (:func:`textclf_batch.runtime.start_function`). No model: the
    steps that need one load it themselves, so the plan step never does."""
    start = start_function(STEP_LOGGERS)
    return start.logger, start.settings, start.s3
