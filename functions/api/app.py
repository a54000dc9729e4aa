"""API function: FastAPI behind API Gateway through Mangum.

The model is loaded once per container, here at import time (during Lambda's
init phase), never per request and never in a FastAPI startup hook: Mangum runs
the lifespan cycle on every invocation.
"""

from aws_lambda_powertools import Logger
from aws_lambda_powertools.logging.utils import copy_config_to_registered_loggers

from textclf.http import create_app, create_handler
from textclf.model import get_predictor
from textclf.settings import get_settings

logger = Logger()
copy_config_to_registered_loggers(source_logger=logger, include={"textclf"})

settings = get_settings()
predictor = get_predictor()
app = create_app(predictor, settings)
handler = logger.inject_lambda_context(create_handler(app))
