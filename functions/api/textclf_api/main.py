"""API function: FastAPI behind API Gateway through Mangum.

The model is loaded once per container, here at import time (during Lambda's
init phase), never per request and never in a FastAPI startup hook: Mangum runs
the lifespan cycle on every invocation. With SnapStart, a before-snapshot hook
also sends a warm-up request through the handler so restored environments start hot.

FastAPI is imported with its own pydantic models built on first use (:mod:`textclf_api.deferred`):
they describe the OpenAPI document, which no prediction needs.

The cyclic garbage collector is off while the modules load (it would otherwise
walk the growing heap again and again, a sizeable share of the cold start `make bench` measures);
what init built is then frozen, out of its reach, and it is switched back on.
"""

import gc

gc.disable()
try:
    from textclf_api.deferred import models_built_on_first_use

    with models_built_on_first_use():
        # FastAPI's OpenAPI models: built when /openapi.json first needs them (textclf_api.deferred)
        import fastapi  # noqa: F401

    from aws_lambda_powertools import Logger
    from aws_lambda_powertools.logging import correlation_paths
    from aws_lambda_powertools.logging.utils import copy_config_to_registered_loggers

    from textclf.model import get_predictor
    from textclf.settings import get_settings
    from textclf_api.factory import create_app
    from textclf_api.gateway import create_handler
    from textclf_api.metrics import BUFFER as metrics_buffer
    from textclf_api.metrics import flush_at_shutdown
    from textclf_api.snapstart import register_before_snapshot, warm_api

    logger = Logger()
    copy_config_to_registered_loggers(source_logger=logger, include={"textclf", "textclf_api"})

    settings = get_settings()
    predictor = get_predictor(settings)
    app = create_app(predictor, settings)
    lambda_handler = create_handler(app, base_path=settings.api_base_path)
    # every log line of a request carries API Gateway's request id (v1 and v2 alike)
    handler = logger.inject_lambda_context(
        lambda_handler, correlation_id_path=correlation_paths.API_GATEWAY_HTTP
    )
    # the metrics of several requests go out as one record (textclf_api.metrics: when, and what
    # a container stopped without notice loses)
    metrics_buffer.max_requests = settings.metrics_flush_requests
    flush_at_shutdown(metrics_buffer)

    def before_snapshot() -> None:
        warm_api(lambda_handler)
        metrics_buffer.flush()  # written now, not copied into every restored environment

    register_before_snapshot(before_snapshot)
finally:
    # Everything built so far lives as long as the container: move it out of the
    # collector's reach so later collections scan only per-request garbage (lower p99).
    gc.freeze()
    gc.enable()
