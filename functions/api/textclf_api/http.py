"""The prediction API as a FastAPI application, and its Lambda adapter.

``create_app`` wires routes, limits and error mapping around a :class:`Predictor`;
``create_handler`` wraps the app with Mangum for API Gateway (HTTP API payload
v2 and REST API payload v1). Every error leaves as an RFC 9457 problem document.
"""

import asyncio
import base64
import binascii
import json
import logging
import time
import warnings
from collections.abc import Callable, Coroutine
from typing import Any

from fastapi import FastAPI, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute
from fastapi.telemetry import TelemetryConfig
from mangum import Mangum
from mangum.adapter import DEFAULT_TEXT_MIME_TYPES
from pydantic import BaseModel, ValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import request_response as starlette_request_response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from textclf.model import Prediction, Predictor
from textclf.schemas import BatchPredictionOut, HealthOut, PredictionOut, Problem, request_models
from textclf.settings import Settings
from textclf_api.docs import add_docs
from textclf_api.metrics import RequestMetrics

logger = logging.getLogger(__name__)

PROBLEM_MEDIA_TYPE = "application/problem+json"
NO_TELEMETRY: TelemetryConfig = {"tracing": False, "metrics": False, "logs": False}
PROBLEM_BASE = "urn:textclf:problem:"
JSON_TYPES = ("application/json",)
# the scope key of a request's RequestMetrics (set in Lambda only: locally nothing is emitted)
METRICS_KEY = "textclf_api.metrics"

LambdaHandler = Callable[[dict[str, Any], Any], dict[str, Any]]


def problem_response(
    status: int,
    slug: str,
    title: str,
    detail: str,
    instance: str | None = None,
    errors: list[dict[str, Any]] | None = None,
    headers: dict[str, str] | None = None,
) -> JSONResponse:
    """An RFC 9457 ``application/problem+json`` response."""
    body = Problem(
        type=PROBLEM_BASE + slug,
        title=title,
        status=status,
        detail=detail,
        instance=instance,
        errors=errors,
    ).model_dump(exclude_none=True)
    return JSONResponse(body, status_code=status, media_type=PROBLEM_MEDIA_TYPE, headers=headers)


def _clean_validation_errors(exc: RequestValidationError) -> list[dict[str, Any]]:
    """Field errors without the offending input (it may be long or personal)."""
    cleaned = []
    for err in exc.errors():
        loc = [str(p) for p in err.get("loc", ())]
        cleaned.append({"loc": loc, "msg": str(err.get("msg", "")), "type": str(err.get("type", ""))})
    return cleaned


class StagePathMiddleware:
    """Let the app know the public prefix API Gateway put in front of it.

    For a named stage the public URL is ``/<stage>/...``: REST API (v1) events
    carry the path without it, HTTP API (v2) events with it. Behind a custom domain
    whose API mapping has a base path (``https://api.example.com/textclf/predict``),
    both keep the base path in the path they pass on (v1 ``path``, v2 ``rawPath``),
    so the configured ``base_path`` is taken off the same way. Setting ``root_path``
    (and keeping ``path`` absolute, as Starlette expects) makes routing, redirects
    and the ``/docs`` page's link to ``/openapi.json`` right under any prefix; a
    request without the prefix (the execute-api URL) is routed as before.
    """

    def __init__(self, app: ASGIApp, base_path: str = "") -> None:
        self.app = app
        self.base_path = base_path

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        event = scope.get("aws.event")
        if scope["type"] == "http" and isinstance(event, dict):
            prefix = _public_prefix(event, scope["path"], self.base_path)
            if prefix:
                scope = dict(scope)
                scope["root_path"] = prefix
                if not scope["path"].startswith(prefix + "/") and scope["path"] != prefix:
                    scope["path"] = prefix + scope["path"]
        await self.app(scope, receive, send)


def _under(path: str, prefix: str) -> bool:
    return path == prefix or path.startswith(prefix + "/")


def _public_prefix(event: dict[str, Any], path: str, base_path: str = "") -> str:
    """The part of the public URL path in front of the app's routes ("" for none)."""
    if base_path and _under(path, base_path):
        return base_path
    context = event.get("requestContext") or {}
    if event.get("version") == "2.0":
        stage = context.get("stage") or "$default"
        if stage != "$default" and _under(path, f"/{stage}"):
            return f"/{stage}"
        return ""
    # v1: requestContext.path is the public path (stage or custom-domain base path
    # included); event["path"] is the resource path the app routes on.
    public = context.get("path")
    if isinstance(public, str) and path and public.endswith(path) and public != path:
        return public[: -len(path)].rstrip("/")
    return ""


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
        docs_url=None,  # textclf_api.docs serves /docs and /redoc without a CDN
        redoc_url=None,
    )
    add_docs(app)

    version = predictor.version

    def _out(pred: Prediction) -> PredictionOut:
        # model_construct: the predictor's output is already well-formed, validating it again
        # would cost more than the rest of the route
        return PredictionOut.model_construct(
            label=pred["label"], scores=pred["scores"], model_version=version
        )

    # The POST routes are DirectRoutes: they read and validate their body with
    # pydantic-core in one step and return pre-encoded JSON, skipping FastAPI's
    # per-request dependency solving, response validation and exit stacks (which cost more
    # than the prediction adds; docs/performance-log.md). Their models still document
    # them in the OpenAPI document, and their errors keep FastAPI's shape.
    log_texts = settings.log_user_text  # LOG_USER_TEXT=true: each request's texts and labels, logged

    def _predict(request: Request, texts: list[str]) -> list[Prediction]:
        started = time.perf_counter()
        preds = predictor.predict(texts)
        metrics: RequestMetrics | None = request.scope.get(METRICS_KEY)
        if metrics is not None:
            metrics.predicted([p["label"] for p in preds], (time.perf_counter() - started) * 1000)
        if log_texts:
            logger.info("prediction", extra={"texts": list(texts), "labels": [p["label"] for p in preds]})
        return preds

    async def predict(request: Request) -> Response:
        body = await read_json_body(request, predict_in)
        return _json(_out(_predict(request, [body.text])[0]))  # type: ignore[attr-defined]

    async def predict_batch(request: Request) -> Response:
        body = await read_json_body(request, batch_in)
        preds = _predict(request, body.texts)  # type: ignore[attr-defined]
        out = BatchPredictionOut.model_construct(predictions=[_out(p) for p in preds], model_version=version)
        return _json(out)

    for path, endpoint, body_model, out_model, summary in (
        ("/predict", predict, predict_in, PredictionOut, "Classify one text"),
        ("/predict/batch", predict_batch, batch_in, BatchPredictionOut, "Classify several texts"),
    ):
        app.router.add_api_route(
            path,
            endpoint,
            methods=["POST"],
            response_model=out_model,
            summary=summary,
            responses=BODY_PROBLEMS,
            openapi_extra=_request_body_doc(body_model),
            route_class_override=DirectRoute,
        )

    @app.get("/health", response_model=HealthOut, summary="Liveness and model version")
    async def health() -> HealthOut:
        return HealthOut(model_version=predictor.version, backend=predictor.backend)

    # Uptime monitors and load balancers probe with HEAD: 200, headers only.
    @app.head("/health", summary="Liveness, headers only", response_class=Response)
    async def health_head() -> Response:
        return Response(status_code=200)

    @app.get("/model", summary="The model's manifest: classes, metrics, version")
    async def model() -> dict[str, Any]:
        return predictor.manifest.to_json()

    @app.exception_handler(RequestValidationError)
    async def on_validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = _clean_validation_errors(exc)
        if any(e["type"] == "json_invalid" for e in errors):
            return problem_response(
                400,
                "malformed-json",
                "Malformed JSON",
                "the request body is not valid JSON",
                instance=request.url.path,
            )
        summary = "; ".join(f"{'.'.join(e['loc'])}: {e['msg']}" for e in errors[:5])
        return problem_response(
            422,
            "validation-error",
            "Invalid request body",
            summary,
            instance=request.url.path,
            errors=errors,
        )

    @app.exception_handler(StarletteHTTPException)
    async def on_http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        if exc.status_code == 400:  # FastAPI's "error parsing the body" (e.g. not UTF-8)
            return problem_response(
                400,
                "undecodable-body",
                "Undecodable body",
                "the request body could not be decoded as UTF-8 JSON",
                instance=request.url.path,
            )
        title = {404: "Not Found", 405: "Method Not Allowed"}.get(exc.status_code, "HTTP error")
        detail = exc.detail if isinstance(exc.detail, str) else title
        if exc.status_code == 404:
            detail = f"no route {request.url.path}; see /docs"
        return problem_response(
            exc.status_code,
            "http-" + str(exc.status_code),
            title,
            detail,
            instance=request.url.path,
            headers=getattr(exc, "headers", None),
        )

    # Added last = outermost: the stage prefix is resolved before the guard sees the request.
    app.add_middleware(RequestGuardMiddleware)
    app.add_middleware(StagePathMiddleware, base_path=settings.api_base_path)
    app.openapi = _openapi(app, [predict_in, batch_in, Problem])  # type: ignore[method-assign]
    # The router tries routes in order; no two share a path, so the prediction routes
    # can come before the docs routes FastAPI registers first.
    app.router.routes.sort(key=lambda route: not isinstance(route, DirectRoute))
    return app


class DirectRoute(APIRoute):
    """A route whose endpoint takes the :class:`Request` and returns a :class:`Response`.

    FastAPI still documents it from its ``response_model`` and ``openapi_extra``, and
    its errors go through the app's exception handlers, but no dependency solving,
    body parsing or response serialisation runs per request: the endpoint does its own
    (see :func:`read_json_body`). Without dependencies there is nothing for FastAPI's
    per-request exit stacks to close, so the endpoint is wrapped as Starlette wraps
    its own routes.
    """

    def __init__(self, path: str, endpoint: Callable[..., Any], **kwargs: Any) -> None:
        super().__init__(path, endpoint, **kwargs)
        if self.dependant.dependencies:
            raise TypeError(f"{path}: a DirectRoute cannot have dependencies")
        self.app = starlette_request_response(endpoint)

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        return self.endpoint


def _json(model: BaseModel) -> Response:
    return Response(model.model_dump_json(), media_type="application/json")


async def read_json_body[M: BaseModel](request: Request, model: type[M]) -> M:
    """The request body parsed as JSON and validated against ``model``.

    Failures raise what FastAPI's own body parameter would: a 422
    :class:`RequestValidationError` (locations under ``body``; a missing body, or one
    nested too deeply to parse, included), with invalid JSON as ``json_invalid``, and a
    400 for a body that is not UTF-8.
    """
    raw = await request.body()
    if not raw:
        raise RequestValidationError([{"type": "missing", "loc": ("body",), "msg": "Field required"}])
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise StarletteHTTPException(400, "the body is not UTF-8") from None
    try:
        return model.model_validate_json(text)
    except ValidationError as exc:
        errors: list[dict[str, Any]] = []
        for err in exc.errors(include_url=False, include_input=False, include_context=False):
            if err["type"] == "json_invalid" and "recursion limit" in err["msg"]:
                errors.append({"type": "json_too_deep", "loc": ("body",), "msg": "JSON nested too deeply"})
            else:
                errors.append({**err, "loc": ("body", *err["loc"])})
        raise RequestValidationError(errors) from None


def _problem_doc(description: str) -> dict[str, Any]:
    schema_ref = {"$ref": "#/components/schemas/Problem"}
    return {"description": description, "content": {PROBLEM_MEDIA_TYPE: {"schema": schema_ref}}}


# What the body-reading routes answer on bad input (documented by reference: a response
# ``model`` would also build a validator per route at start-up, for documentation only).
BODY_PROBLEMS: dict[int | str, dict[str, Any]] = {
    400: _problem_doc("Malformed JSON, or a body that is not UTF-8 or not valid base64"),
    415: _problem_doc("The body is not JSON"),
    422: _problem_doc("The body does not match the schema or its limits"),
}


def _request_body_doc(model: type[BaseModel]) -> dict[str, Any]:
    schema_ref = {"$ref": f"#/components/schemas/{model.__name__}"}
    return {"requestBody": {"required": True, "content": {"application/json": {"schema": schema_ref}}}}


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


class RequestGuardMiddleware:
    """Refuse non-JSON POST bodies with 415, answer an unhandled error with a 500 problem
    (logged once), send no body to HEAD; in Lambda, write the request's metrics line.

    An unhandled error is caught here rather than by an ``Exception`` handler: Starlette
    re-raises after such a handler, and Mangum then logs the same error a second time, as
    a plain-text traceback. The optional per-request log line (method, path, status,
    duration; never the body) is DEBUG: API Gateway's access log has the same.

    A plain ASGI middleware: Starlette's ``BaseHTTPMiddleware`` (``@app.middleware``)
    costs about half a millisecond per request, as much as the whole prediction.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500
        started_response = False
        problem: str | None = None
        head = scope["method"] == "HEAD"
        metrics = None
        if "aws.event" in scope:
            metrics = scope[METRICS_KEY] = RequestMetrics()

        async def send_and_record(message: Message) -> None:
            nonlocal status, started_response, problem
            if message["type"] == "http.response.start":
                status = message["status"]
                started_response = True
            elif status >= 400 and problem is None:
                problem = _problem_type(message.get("body", b""))
            if head and message.get("body"):
                # a response to HEAD has no body (Mangum, unlike an HTTP server, would send it)
                message = {**message, "body": b""}
            await send(message)

        try:
            ctype = _content_type(scope) if scope["method"] == "POST" else ""
            if ctype and ctype not in JSON_TYPES and not ctype.endswith("+json"):
                response = problem_response(
                    415,
                    "unsupported-media-type",
                    "Unsupported Media Type",
                    f"send the body as JSON with Content-Type: application/json (got {ctype!r})",
                    instance=scope["path"],
                )
                await response(scope, receive, send_and_record)
                return
            await self.app(scope, receive, send_and_record)
        except Exception:
            logger.exception("unhandled error on %s %s", scope["method"], scope["path"])
            status, problem = 500, "internal-error"
            if not started_response:
                response = problem_response(
                    500,
                    "internal-error",
                    "Internal Server Error",
                    "the server failed to handle this request; it has been logged",
                    instance=scope["path"],
                )
                await response(scope, receive, send)
        finally:
            if metrics is not None:
                metrics.emit(status, problem)
            if logger.isEnabledFor(logging.DEBUG):
                _log_request(scope["method"], scope["path"], status, started)


def _problem_type(body: bytes) -> str | None:
    """The short problem type (``validation-error``) of a problem document body."""
    try:
        kind = json.loads(body).get("type", "")
    except (ValueError, AttributeError):
        return None
    return (
        kind.removeprefix(PROBLEM_BASE) if isinstance(kind, str) and kind.startswith(PROBLEM_BASE) else None
    )


def _content_type(scope: Scope) -> str:
    for name, value in scope["headers"]:
        if name == b"content-type":
            return str(value.decode("latin-1").split(";")[0].strip().lower())
    return ""


def _log_request(method: str, path: str, status: int, started: float) -> None:
    logger.debug(
        "request",
        extra={
            "method": method,
            "path": path,
            "status": status,
            "duration_ms": round((time.perf_counter() - started) * 1000, 3),
        },
    )


def _bad_event_response(event: dict[str, Any], detail: str) -> dict[str, Any]:
    body = Problem(
        type=PROBLEM_BASE + "undecodable-body", title="Undecodable body", status=400, detail=detail
    ).model_dump(exclude_none=True)
    return {
        "statusCode": 400,
        "headers": {"content-type": PROBLEM_MEDIA_TYPE},
        "body": json.dumps(body),
        "isBase64Encoded": False,
    }


def _set_event_loop() -> None:
    """Give this thread an event loop of its own unless it has one.

    Mangum runs every request on ``asyncio.get_event_loop()``. When a thread never had a
    loop set, that call makes one implicitly with a ``DeprecationWarning`` under Python
    3.12-3.13 and raises from 3.14 on; setting it explicitly here is what both expect.
    """
    with warnings.catch_warnings():
        warnings.filterwarnings("error", "There is no current event loop", DeprecationWarning)
        try:
            asyncio.get_event_loop()
            return
        except (DeprecationWarning, RuntimeError):
            pass
    asyncio.set_event_loop(asyncio.new_event_loop())


def create_handler(app: FastAPI) -> LambdaHandler:
    """The Lambda entry point: Mangum, with lifespan off, behind a body check.

    API Gateway base64-encodes binary bodies; a body flagged so that is not valid
    base64 would make Mangum raise, so it is answered with a 400 problem here.
    """
    _set_event_loop()
    mangum = Mangum(app, lifespan="off", text_mime_types=[*DEFAULT_TEXT_MIME_TYPES, PROBLEM_MEDIA_TYPE])

    def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
        body = event.get("body")
        if event.get("isBase64Encoded") and isinstance(body, str):
            try:
                base64.b64decode(body, validate=True)
            except (binascii.Error, ValueError):
                return _bad_event_response(event, "the body is flagged base64 but is not valid base64")
        return mangum(event, context)

    return handler
