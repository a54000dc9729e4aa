"""Every error the API answers, as an RFC 9457 ``application/problem+json`` document.

The one place errors become responses: FastAPI's validation and HTTP errors (exception handlers),
and what :class:`RequestGuardMiddleware` answers before or around the app (a body that is not JSON,
or compressed, a body API Gateway could not decode, an unhandled error). Problem types are
``urn:textclf:problem:<slug>``; the OpenAPI document refers to the ``Problem`` schema.
"""

from __future__ import annotations

import json
import logging
import re
import time
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from textclf.schemas import Problem
from textclf_api.metrics import METRICS_KEY, RequestMetrics

logger = logging.getLogger(__name__)

PROBLEM_MEDIA_TYPE = "application/problem+json"
PROBLEM_BASE = "urn:textclf:problem:"
JSON_TYPES = ("application/json",)
# scope key an event-source handler sets when the event's body cannot be decoded (the reason)
BAD_BODY_KEY = "textclf.bad_body"


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


def _problem_doc(description: str) -> dict[str, Any]:
    schema_ref = {"$ref": "#/components/schemas/Problem"}
    return {"description": description, "content": {PROBLEM_MEDIA_TYPE: {"schema": schema_ref}}}


# What the body-reading routes answer on bad input (documented by reference: a response
# ``model`` would also build a validator per route at start-up, for documentation only).
BODY_PROBLEMS: dict[int | str, dict[str, Any]] = {
    400: _problem_doc("Malformed JSON, or a body that is not UTF-8 or not valid base64"),
    415: _problem_doc("The body is not JSON, or has a Content-Encoding other than identity"),
    422: _problem_doc("The body does not match the schema or its limits"),
}


def _clean_validation_errors(exc: RequestValidationError) -> list[dict[str, Any]]:
    """Field errors without the offending input (it may be long or personal)."""
    cleaned = []
    for err in exc.errors():
        loc = [str(p) for p in err.get("loc", ())]
        cleaned.append({"loc": loc, "msg": str(err.get("msg", "")), "type": str(err.get("type", ""))})
    return cleaned


async def on_validation_error(request: Request, exc: Exception) -> JSONResponse:
    """422 for a body that does not match its schema; 400 for one that is not JSON at all."""
    assert isinstance(exc, RequestValidationError)
    errors = _clean_validation_errors(exc)
    if any(e["type"] == "json_invalid" for e in errors):
        return problem_response(
            400, "malformed-json", "Malformed JSON", "the request body is not valid JSON", request.url.path
        )
    summary = "; ".join(f"{'.'.join(e['loc'])}: {e['msg']}" for e in errors[:5])
    return problem_response(
        422, "validation-error", "Invalid request body", summary, instance=request.url.path, errors=errors
    )


async def on_http_error(request: Request, exc: Exception) -> JSONResponse:
    """Starlette's HTTP errors (404, 405, a body that is not UTF-8) as problems."""
    assert isinstance(exc, StarletteHTTPException)
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


def add_problem_handlers(app: FastAPI) -> None:
    """Answer every error of ``app`` with a problem document (the handlers above, and the guard)."""
    app.add_exception_handler(RequestValidationError, on_validation_error)
    app.add_exception_handler(StarletteHTTPException, on_http_error)
    app.add_middleware(RequestGuardMiddleware)


class RequestGuardMiddleware:
    """Refuse non-JSON POST bodies and compressed ones (any ``Content-Encoding`` but ``identity``)
    with 415 and bodies the event source could not decode with 400,
    answer an unhandled error with a 500 problem (logged once); in Lambda, record the request's
    outcome in its metrics.

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
            await send(message)

        try:
            refused = _refusal(scope)
            if refused is not None:
                await refused(scope, receive, send_and_record)
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


def _refusal(scope: Scope) -> JSONResponse | None:
    """The problem a request gets before the app sees it, if any."""
    bad_body = scope.get(BAD_BODY_KEY)
    if bad_body:
        return problem_response(400, "undecodable-body", "Undecodable body", str(bad_body))
    if scope["method"] != "POST":
        return None
    ctype, codings = _body_headers(scope)
    if codings:
        return problem_response(
            415,
            "unsupported-content-encoding",
            "Unsupported Content-Encoding",
            f"the body must not be compressed or otherwise encoded: Content-Encoding {codings!r} is "
            "not supported (send it as is, or with Content-Encoding: identity)",
            instance=scope["path"],
            headers={"Accept-Encoding": "identity"},
        )
    if ctype and ctype not in JSON_TYPES and not ctype.endswith("+json"):
        return problem_response(
            415,
            "unsupported-media-type",
            "Unsupported Media Type",
            f"send the body as JSON with Content-Type: application/json (got {ctype!r})",
            instance=scope["path"],
        )
    return None


def _problem_type(body: bytes) -> str | None:
    """The short problem type (``validation-error``) of a problem document body."""
    try:
        kind = json.loads(body).get("type", "")
    except (ValueError, AttributeError):
        return None
    return (
        kind.removeprefix(PROBLEM_BASE) if isinstance(kind, str) and kind.startswith(PROBLEM_BASE) else None
    )


_BODY_HEADERS = frozenset((b"content-type", b"content-encoding"))
_CODING = re.compile(r"[a-z0-9][a-z0-9.+-]{0,31}")


def _body_headers(scope: Scope) -> tuple[str, str]:
    """The request's media type (lower case, no parameters; "" when not sent) and its content
    codings other than ``identity`` (RFC 9110 §8.4), comma-separated ("" for a body sent as is)."""
    ctype = ""
    codings: list[str] = []
    for name, value in scope["headers"]:
        if name not in _BODY_HEADERS:  # one look-up for the many other headers
            continue
        if name == b"content-type":
            ctype = value.decode("latin-1").split(";")[0].strip().lower()
        else:
            for coding in value.decode("latin-1").split(","):
                coding = coding.strip().lower()
                if coding and coding != "identity":
                    # a registered name (gzip, br, zstd, ...) is named; anything else is not echoed
                    codings.append(coding if _CODING.fullmatch(coding) else "(unrecognised)")
    return ctype, ", ".join(codings)


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
