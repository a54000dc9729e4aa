"""What a handler of the batch code sets up once per container, at import (Lambda's init phase).

The batch function (:mod:`textclf_batch.main`) and the fan-out's three steps
(:mod:`textclf_fanout.plan_main`, ``score_main``, ``publish_main``) start alike: a Powertools
``Logger`` whose configuration the packages' own module loggers share, the settings read and
checked once (a bad value fails the init, not each event), and one S3 client with botocore's
``standard`` retries. Loading the model is left to each handler, so a step that needs none
(the plan) never loads it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import boto3
from aws_lambda_powertools import Logger
from aws_lambda_powertools.logging.utils import copy_config_to_registered_loggers
from botocore.config import Config

from textclf.settings import Settings, get_settings

# botocore's "standard" mode retries throttling, 5xx and connection errors with backoff
S3_CONFIG = Config(retries={"mode": "standard", "total_max_attempts": 5})


@dataclass(frozen=True, slots=True)
class FunctionStart:
    """A handler's per-container objects: ``logger`` (service name from
    ``POWERTOOLS_SERVICE_NAME``), ``settings`` and ``s3`` (a boto3 S3 client)."""

    logger: Logger
    settings: Settings
    s3: Any


def start_function(packages: set[str]) -> FunctionStart:
    """Make the logger (its configuration copied to the loggers of ``packages``, e.g.
    ``{"textclf", "textclf_batch"}``), read the settings (:class:`textclf.settings.SettingsError`
    on a bad value) and make the S3 client."""
    logger = Logger()
    copy_config_to_registered_loggers(source_logger=logger, include=packages)
    return FunctionStart(logger, get_settings(), boto3.client("s3", config=S3_CONFIG))
