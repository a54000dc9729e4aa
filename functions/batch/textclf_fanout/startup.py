"""The start-up the fan-out's three step handlers share (``plan_main``, ``score_main``,
``publish_main``): made once per container, at import."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger

from textclf_batch.runtime import start_function

STEP_LOGGERS = {"textclf", "textclf_batch", "textclf_fanout"}


def start_step() -> tuple[Logger, Any]:
    """The step's logger (its configuration shared by the :data:`STEP_LOGGERS` packages'
    loggers) and its S3 client (:func:`textclf_batch.runtime.start_function`). Neither settings
    (the handler reads them) nor a model: the steps that need one load it, the plan step never."""
    return start_function(STEP_LOGGERS)
