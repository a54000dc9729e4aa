"""Interactive API docs (Swagger UI at ``/docs``, ReDoc at ``/redoc``) served from the deployment.

FastAPI's default pages load their JavaScript, CSS, favicon and (ReDoc) fonts from
public CDNs: offline, or in a locked-down network, they render a blank page, and on
AWS every visitor's browser would fetch code from a third party. Here the pages load
Swagger UI and ReDoc from the pinned ``fastapi-standalone-docs`` package (MIT; it
bundles swagger-ui-dist, Apache-2.0, and the ReDoc standalone build, MIT, with their
licence files), served under ``/docs/assets/``. Only its files are used: its own
``StandaloneDocs`` helper patches functions in ``fastapi.applications`` globally.

Every URL a page refers to starts with the request's ``root_path``, so the pages work
under any API Gateway stage or custom-domain base path (the event-source handlers in
:mod:`textclf_api.gateway` set it).
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

from fastapi import APIRouter, FastAPI, Request
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from fastapi.responses import HTMLResponse
from starlette.staticfiles import StaticFiles

ASSETS_PACKAGE = "fastapi_standalone_docs"
ASSETS_PATH = "/docs/assets"
# validatorUrl None: Swagger UI would otherwise show a badge image fetched from
# validator.swagger.io, sending it the spec's URL, for any API not on localhost.
SWAGGER_UI_PARAMETERS = {"validatorUrl": None}


def assets_dir() -> Path:
    """The ``static`` folder of the assets package (``swagger/``, ``redoc/``, ``fastapi/``).

    Found without importing the package (its import pulls in code we do not use).
    Raises ``RuntimeError`` when the package is not installed.
    """
    spec = importlib.util.find_spec(ASSETS_PACKAGE)
    if spec is None or spec.origin is None:
        raise RuntimeError(f"{ASSETS_PACKAGE} is not installed: the /docs and /redoc pages need its assets")
    return Path(spec.origin).parent / "static"


def docs_router(title: str, openapi_url: str = "/openapi.json") -> APIRouter:
    """``GET /docs`` (Swagger UI) and ``GET /redoc`` for the API called ``title``; their assets are
    served by :func:`add_docs`."""
    router = APIRouter(include_in_schema=False)

    def urls(request: Request) -> tuple[str, str]:
        root = str(request.scope.get("root_path", "")).rstrip("/")
        return root + openapi_url, root + ASSETS_PATH

    @router.get("/docs")
    async def swagger_ui(request: Request) -> HTMLResponse:
        spec, assets = urls(request)
        return get_swagger_ui_html(
            openapi_url=spec,
            title=f"{title} - Swagger UI",
            swagger_js_url=f"{assets}/swagger/swagger-ui-bundle.js",
            swagger_css_url=f"{assets}/swagger/swagger-ui.css",
            swagger_favicon_url=f"{assets}/fastapi/favicon.png",
            swagger_ui_parameters=SWAGGER_UI_PARAMETERS,
        )

    @router.get("/redoc")
    async def redoc(request: Request) -> HTMLResponse:
        spec, assets = urls(request)
        return get_redoc_html(
            openapi_url=spec,
            title=f"{title} - ReDoc",
            redoc_js_url=f"{assets}/redoc/redoc.standalone.js",
            redoc_favicon_url=f"{assets}/fastapi/favicon.png",
            with_google_fonts=False,
        )

    return router


def add_docs(app: FastAPI, openapi_url: str = "/openapi.json") -> None:
    """Add ``GET /docs``, ``GET /redoc`` and the ``/docs/assets/...`` files they load to ``app``.

    ``app`` must be created with ``docs_url=None, redoc_url=None`` (FastAPI's CDN pages). The
    assets are mounted on the app itself.
    """
    app.router.routes.extend(docs_router(app.title, openapi_url).routes)  # see factory.include
    app.mount(ASSETS_PATH, StaticFiles(directory=assets_dir()), name="docs-assets")
