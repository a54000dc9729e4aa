"""API Gateway's event sources as Mangum custom handlers (Mangum's ``custom_handlers=``), and the
Lambda handler built from them.

One class per event source turns an event into an ASGI scope and the app's answer into the
response that source expects:

- :class:`HttpApiV2`: HTTP API, payload format 2.0 (``"version": "2.0"``);
- :class:`RestApiV1`: REST API, and HTTP API with payload format 1.0 (``httpMethod``, ``path``).

Each adds to Mangum's own handler what API Gateway does to paths and bodies:

- **Public prefix.** For a named stage the public URL is ``/<stage>/...``: v1 events carry the
  path without it (``requestContext.path`` has it), v2 events with it. Behind a custom domain
  whose API mapping has a base path (``https://api.example.com/textclf/predict``) both keep the
  base path in the path they pass on (v1 ``path``, v2 ``rawPath``); the configured base path
  (``API_BASE_PATH``, given to Mangum as ``api_gateway_base_path``) is recognised the same way,
  whole path segments only. The prefix becomes the scope's ``root_path``, with ``path`` kept
  absolute as Starlette expects, so routing, redirects and the ``/docs`` page's link to
  ``/openapi.json`` are right under any prefix; a request without it (the execute-api URL)
  is routed as before.
- **Base64 bodies.** API Gateway base64-encodes binary bodies and flags them. A flagged body
  that is not valid base64 reaches the app empty, with :data:`~textclf_api.problems.BAD_BODY_KEY`
  in the scope saying why; the app answers it with a 400 problem document.
- **HEAD.** A response to HEAD has no body (an HTTP server drops it; Mangum would send it).
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import warnings
from typing import Any

from mangum import Mangum
from mangum.adapter import DEFAULT_TEXT_MIME_TYPES
from mangum.handlers.api_gateway import APIGateway, HTTPGateway
from mangum.types import ASGI, LambdaConfig, LambdaContext, LambdaEvent, Response, Scope

from textclf_api.problems import BAD_BODY_KEY, PROBLEM_MEDIA_TYPE

BAD_BASE64 = "the body is flagged base64 but is not valid base64"


def _under(path: str, prefix: str) -> bool:
    return path == prefix or path.startswith(prefix + "/")


def _decode_body(event: LambdaEvent) -> tuple[bytes, str | None]:
    """The request body as bytes, and why it cannot be used (None when it can)."""
    body = event.get("body") or b""
    if not event.get("isBase64Encoded"):
        return (body.encode() if isinstance(body, str) else body), None
    try:
        return base64.b64decode(body, validate=True), None
    except (binascii.Error, ValueError):
        return b"", BAD_BASE64


class _ApiGatewayEvent:
    """What both API Gateway handlers add to Mangum's: the decoded body, the public prefix as
    ``root_path``, no body for HEAD. The scope is built once per event (Mangum's handlers
    build it again for each use)."""

    def __init__(self, event: LambdaEvent, context: LambdaContext, config: LambdaConfig) -> None:
        base = config["api_gateway_base_path"].strip("/")
        self.base_path = f"/{base}" if base else ""
        # Mangum's own handlers strip the base path as a plain string prefix ("/textclfx" too);
        # here it is matched by whole segments, so they get no base path to strip
        super().__init__(event, context, {**config, "api_gateway_base_path": "/"})  # type: ignore[call-arg]
        self._body, bad_body = _decode_body(event)
        scope: Scope = super().scope  # type: ignore[misc]
        if bad_body:
            scope[BAD_BODY_KEY] = bad_body
        prefix = self.public_prefix(scope["path"])
        if prefix:
            scope["root_path"] = prefix
            if not _under(scope["path"], prefix):
                scope["path"] = prefix + scope["path"]
        self._scope = scope

    def public_prefix(self, path: str) -> str:
        """The part of the public URL path in front of the app's routes ("" for none)."""
        raise NotImplementedError

    @property
    def body(self) -> bytes:
        return self._body

    @property
    def scope(self) -> Scope:
        return self._scope

    def __call__(self, response: Response) -> dict[str, Any]:
        if self._scope["method"] == "HEAD" and response["body"]:
            response = {**response, "body": b""}
        answer: dict[str, Any] = super().__call__(response)  # type: ignore[misc]
        return answer


class HttpApiV2(_ApiGatewayEvent, HTTPGateway):
    """HTTP API, payload format 2.0: a named stage (not ``$default``) is part of the path."""

    @classmethod
    def infer(cls, event: LambdaEvent, context: LambdaContext, config: LambdaConfig) -> bool:
        return event.get("version") == "2.0" and "requestContext" in event

    def public_prefix(self, path: str) -> str:
        if self.base_path and _under(path, self.base_path):
            return self.base_path
        stage = self.event["requestContext"].get("stage") or "$default"
        if stage != "$default" and _under(path, f"/{stage}"):
            return f"/{stage}"
        return ""


class RestApiV1(_ApiGatewayEvent, APIGateway):
    """REST API (and HTTP API payload 1.0): ``path`` is the resource path the app routes on,
    ``requestContext.path`` the public one (stage or custom-domain base path included)."""

    @classmethod
    def infer(cls, event: LambdaEvent, context: LambdaContext, config: LambdaConfig) -> bool:
        return "httpMethod" in event and "requestContext" in event

    def public_prefix(self, path: str) -> str:
        if self.base_path and _under(path, self.base_path):
            return self.base_path
        public = (self.event.get("requestContext") or {}).get("path")
        if isinstance(public, str) and path and public.endswith(path) and public != path:
            return public[: -len(path)].rstrip("/")
        return ""


EVENT_SOURCES: list[type[Any]] = [HttpApiV2, RestApiV1]


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


def create_handler(app: ASGI, base_path: str = "") -> Mangum:
    """The Lambda entry point for ``app``: Mangum, lifespan off, with the API Gateway handlers
    above (problem documents answered as text); ``base_path`` is the custom-domain base path
    (``/textclf``; "" for none)."""
    _set_event_loop()
    return Mangum(
        app,
        lifespan="off",
        api_gateway_base_path=base_path or "/",
        custom_handlers=EVENT_SOURCES,
        text_mime_types=[*DEFAULT_TEXT_MIME_TYPES, PROBLEM_MEDIA_TYPE],
    )
