"""``/docs`` and ``/redoc`` render in a real browser with no network beyond 127.0.0.1.

Each page is loaded by headless Chromium from a uvicorn server on 127.0.0.1 with name
resolution and every non-loopback destination blocked (``conftest.py``); the checks are
on the rendered DOM (Swagger UI's operation blocks, ReDoc's operation sections), and on
the blocking proxy having seen no request at all.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from types import ModuleType
from typing import Any

import pytest
from fastapi import FastAPI

from tests.browser.conftest import GatewayStage, Page

pytestmark = pytest.mark.browser

# Swagger UI: one ``opblock opblock-<method>`` block per operation, its path in ``data-path``
SWAGGER_OPERATION = re.compile(r'class="opblock opblock-(\w+)[^"]*"[^>]*>.*?data-path="([^"]+)"', re.S)
# ReDoc: one ``data-section-id="operation/<operationId>"`` section per operation
REDOC_OPERATION = re.compile(r'data-section-id="operation/([^"]+)"')
OPERATIONS = {("post", "/predict"), ("post", "/predict/batch"), ("get", "/health"), ("get", "/model")}


def swagger_operations(page: Page) -> set[tuple[str, str]]:
    return {(m, p) for m, p in SWAGGER_OPERATION.findall(page.dom)}


@pytest.fixture
def stage_gateway(api_module: ModuleType) -> Iterator[GatewayStage]:
    gateway = GatewayStage(api_module.lambda_handler, stage="prod")
    yield gateway
    gateway.close()


def test_swagger_ui_renders_offline(
    api_module: ModuleType, serve: Callable[[Any], str], load_page: Callable[[str], Page]
) -> None:
    base = serve(api_module.app)
    page = load_page(f"{base}/docs")
    page.assert_offline()
    assert swagger_operations(page) >= OPERATIONS, page.dom[:2000]
    assert "Classify one text" in page.dom


def test_redoc_renders_offline(
    api_module: ModuleType, serve: Callable[[Any], str], load_page: Callable[[str], Page]
) -> None:
    base = serve(api_module.app)
    page = load_page(f"{base}/redoc")
    page.assert_offline()
    operations = set(REDOC_OPERATION.findall(page.dom))
    assert len(operations) >= len(OPERATIONS), page.dom[:2000]
    assert "Classify one text" in page.dom and "Classify several texts" in page.dom


@pytest.mark.parametrize("page_path", ["docs", "redoc"])
def test_docs_render_under_a_stage_through_the_lambda_handler(
    stage_gateway: GatewayStage,
    serve: Callable[[Any], str],
    load_page: Callable[[str], Page],
    page_path: str,
) -> None:
    """Served as on AWS: API Gateway events with stage ``prod`` through ``app.handler``."""
    base = serve(stage_gateway)
    page = load_page(f"{base}/prod/{page_path}")
    page.assert_offline()
    if page_path == "docs":
        assert swagger_operations(page) >= OPERATIONS, page.dom[:2000]
    else:
        assert len(set(REDOC_OPERATION.findall(page.dom))) >= len(OPERATIONS), page.dom[:2000]


def test_the_check_sees_a_cdn_page(serve: Callable[[Any], str], load_page: Callable[[str], Page]) -> None:
    """The blocking is real: FastAPI's default (CDN) docs page stays blank and is caught reaching out."""
    app = FastAPI()

    @app.post("/predict")
    async def predict() -> dict[str, str]:
        return {}

    base = serve(app)
    page = load_page(f"{base}/docs")
    assert any("cdn.jsdelivr.net" in url for url in page.outside_requests), page.outside_requests
    assert any("cdn.jsdelivr.net" in line for line in page.proxied), page.proxied
    with pytest.raises(AssertionError, match="requested beyond 127.0.0.1"):
        page.assert_offline()
    assert not swagger_operations(page)
