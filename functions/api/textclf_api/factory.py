"""The prediction API: :func:`create_app` builds the FastAPI application around a :class:`Predictor`.

The app includes one router per concern (``textclf_api.routes``: predictions, the model and its
health, the docs pages) and answers every error with a problem document
(:mod:`textclf_api.problems`). What API Gateway does to events (stage and base-path prefixes,
base64 bodies) is not the app's business: :mod:`textclf_api.gateway` adapts it for Lambda.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import APIRouter, FastAPI
from fastapi.telemetry import TelemetryConfig
from pydantic import BaseModel

from textclf.model import Predictor
from textclf.schemas import Problem, request_models
from textclf.settings import Settings
from textclf_api.problems import add_problem_handlers
from textclf_api.routes.docs import add_docs
from textclf_api.routes.model import model_router
from textclf_api.routes.predictions import DirectRoute, predictions_router

NO_TELEMETRY: TelemetryConfig = {"tracing": False, "metrics": False, "logs": False}


def create_app(predictor: Predictor, settings: Settings) -> FastAPI:
    """The FastAPI app serving ``predictor`` with ``settings``' limits."""
    predict_in, batch_in = request_models(settings.max_text_chars, settings.max_batch_size)
    classes = ", ".join(predictor.classes)
    app = FastAPI(
        title="Text classifier",
        version=predictor.version,
        description=(
            f"Classifies text into one of: {classes}. Model {predictor.version} "
            f"({predictor.backend} backend). Errors are RFC 9457 problem documents."
        ),
        # FastAPI's native OpenTelemetry checks the global providers on every request
        telemetry=None if settings.otel_enabled else NO_TELEMETRY,
        docs_url=None,  # textclf_api.routes.docs serves /docs and /redoc without a CDN
        redoc_url=None,
    )
    add_docs(app)
    include(app, predictions_router(predictor, predict_in, batch_in, log_texts=settings.log_user_text))
    include(app, model_router(predictor))
    add_problem_handlers(app)
    app.openapi = _openapi(app, [predict_in, batch_in, Problem])  # type: ignore[method-assign]
    # The router tries routes in order; no two share a path, so the prediction routes
    # can come before the docs routes FastAPI registers first.
    app.router.routes.sort(key=lambda route: not isinstance(route, DirectRoute))
    return app


def include(app: FastAPI, router: APIRouter) -> None:
    """Add ``router``'s routes to ``app``, as they are.

    ``app.include_router`` keeps each included router as a branch that FastAPI resolves on
    every request (route contexts, a lock-guarded cache check, scope bookkeeping), which cost
    about 30 microseconds per request here (``bench/child.py warm``, same run), a fifth of the
    framework floor. These routers set no prefix, dependencies, tags or responses of their own
    for an include to apply, so their routes are the app's routes unchanged.
    """
    app.router.routes.extend(router.routes)


def _openapi(app: FastAPI, models: list[type[BaseModel]]) -> Callable[[], dict[str, Any]]:
    """FastAPI's OpenAPI document plus the schemas the DirectRoutes refer to (bodies, problems)."""
    build = app.openapi

    def openapi() -> dict[str, Any]:
        spec = build()
        schemas = spec.setdefault("components", {}).setdefault("schemas", {})
        for model in models:
            if model.__name__ not in schemas:
                schemas[model.__name__] = model.model_json_schema(ref_template="#/components/schemas/{model}")
        return spec

    return openapi
