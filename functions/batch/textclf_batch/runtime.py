"""What a handler of the batch code sets up once per container, at import (Lambda's init phase).

The batch function (:mod:`textclf_batch.main`) and the fan-out's three steps
(:mod:`textclf_fanout.plan_main`, ``score_main``, ``publish_main``) start alike: a Powertools
``Logger`` whose configuration the packages' own module loggers share, and one S3 client with
botocore's ``standard`` retries. The handlers read the settings themselves (that is a handler's
job alone: docs/architecture.md) and load the model only where they need one, so the plan step
never does.
"""

from __future__ import annotations

from typing import Any

import boto3
from aws_lambda_powertools import Logger
from aws_lambda_powertools.logging.utils import copy_config_to_registered_loggers
from botocore.config import Config

# botocore's "standard" mode retries throttling, 5xx and connection errors with backoff
S3_CONFIG = Config(retries={"mode": "standard", "total_max_attempts": 5})


def start_function(packages: set[str]) -> tuple[Logger, Any]:
    """The handler's logger (service name from ``POWERTOOLS_SERVICE_NAME``; its configuration
    copied to the loggers of ``packages``, e.g. ``{"textclf", "textclf_batch"}``) and a boto3 S3
    client with :data:`S3_CONFIG`."""
    logger = Logger()
    copy_config_to_registered_loggers(source_logger=logger, include=packages)
    return logger, boto3.client("s3", config=S3_CONFIG)
