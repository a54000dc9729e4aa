"""``/docs`` and ``/redoc`` load everything from the deployment, under any stage or base path.

The rendering itself is checked in a real browser (tests/browser); these check the pages'
URLs and that the assets come back through the Lambda handler as API Gateway needs them.
"""

from __future__ import annotations

import base64
import importlib.util
import re
import shutil
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.helpers import ROOT, LambdaContext, header, load_event
from textclf_api.routes.docs import ASSETS_PATH, assets_dir

# every src= / href= / spec-url= / url: '...' a page refers to
PAGE_URL = re.compile(r"""(?:src|href|spec-url)="([^"]+)"|url: '([^']+)'""")
ASSETS = {
    "swagger/swagger-ui-bundle.js": "text/javascript",
    "swagger/swagger-ui.css": "text/css",
    "redoc/redoc.standalone.js": "text/javascript",
    "fastapi/favicon.png": "image/png",
}


def page_urls(html: str) -> set[str]:
    return {a or b for a, b in PAGE_URL.findall(html)}


@pytest.mark.parametrize("page", ["/docs", "/redoc"])
def test_pages_refer_only_to_the_deployment(api_module: ModuleType, page: str) -> None:
    html = TestClient(api_module.app).get(page).text
    urls = page_urls(html)
    assert urls and all(u.startswith("/") and not u.startswith("//") for u in urls), urls
    assert "googleapis" not in html and "cdn." not in html
    if page == "/docs":
        assert '"validatorUrl": null' in html  # no badge fetched from validator.swagger.io


def test_assets_exist_in_the_package() -> None:
    root = assets_dir()
    for name in (*ASSETS, "swagger/LICENSE", "redoc/redoc.standalone.js.LICENSE.txt"):
        assert (root / name).is_file(), name


def test_layer_trim_keeps_the_assets(tmp_path: Path) -> None:
    """layers/deps/trim.py (run by sam build on the DepsLayer) leaves every asset and licence in place."""
    spec = importlib.util.spec_from_file_location("deps_trim", ROOT / "layers" / "deps" / "trim.py")
    assert spec is not None and spec.loader is not None
    trim = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(trim)
    package = assets_dir().parent
    site = tmp_path / "python"
    shutil.copytree(package, site / package.name)
    before = sorted(p.relative_to(site) for p in (site / package.name / "static").rglob("*") if p.is_file())
    trim.trim(site)
    after = sorted(p.relative_to(site) for p in (site / package.name / "static").rglob("*") if p.is_file())
    assert after == before and len(after) >= len(ASSETS)


def v2_get(path: str, stage: str = "$default") -> dict[str, Any]:
    event = load_event("apigw-v2-docs-stage.json")
    public = path if stage == "$default" else f"/{stage}{path}"
    event["rawPath"] = event["requestContext"]["http"]["path"] = public
    event["requestContext"]["stage"] = stage
    event["routeKey"] = f"GET {path}"
    return event


def v1_get(path: str, base: str) -> dict[str, Any]:
    """A REST API event: ``path`` is the resource path, ``requestContext.path`` the public one."""
    event = load_event("apigw-v1-docs.json")
    event["path"] = path
    event["requestContext"]["path"] = base + path
    return event


def body_bytes(response: dict[str, Any]) -> bytes:
    body = response["body"]
    return base64.b64decode(body) if response["isBase64Encoded"] else body.encode()


@pytest.mark.parametrize(
    ("event", "prefix"),
    [
        (v2_get("/docs"), ""),
        (v2_get("/docs", stage="prod"), "/prod"),
        (v2_get("/redoc", stage="dev-2"), "/dev-2"),
        (v1_get("/docs", "/prod"), "/prod"),
        (v1_get("/redoc", "/v1/classifier"), "/v1/classifier"),  # custom domain base path
    ],
)
def test_page_urls_follow_the_stage_or_base_path(
    api_module: ModuleType, event: dict[str, Any], prefix: str
) -> None:
    response = api_module.handler(event, LambdaContext())
    assert response["statusCode"] == 200, response
    urls = page_urls(body_bytes(response).decode())
    assert f"{prefix}/openapi.json" in urls
    assert urls and all(u.startswith(f"{prefix}{ASSETS_PATH}/") or u.endswith("/openapi.json") for u in urls)


@pytest.mark.parametrize("name", sorted(ASSETS))
@pytest.mark.parametrize("stage", ["$default", "prod"])
def test_assets_through_the_lambda_handler(api_module: ModuleType, name: str, stage: str) -> None:
    response = api_module.handler(v2_get(f"{ASSETS_PATH}/{name}", stage=stage), LambdaContext())
    assert response["statusCode"] == 200, response
    assert header(response, "content-type").split(";")[0] == ASSETS[name]
    # text travels as text, the PNG base64-encoded, as API Gateway expects
    assert response["isBase64Encoded"] is (ASSETS[name] == "image/png")
    assert body_bytes(response) == (assets_dir() / name).read_bytes()


def test_missing_asset_is_a_problem_404(api_module: ModuleType) -> None:
    response = api_module.handler(v2_get(f"{ASSETS_PATH}/swagger/nope.js"), LambdaContext())
    assert response["statusCode"] == 404
    assert header(response, "content-type") == "application/problem+json"


@pytest.mark.parametrize("name", ["../docs.py", "..%2f..%2fsettings.py", "%2e%2e/%2e%2e/http.py"])
def test_assets_do_not_escape_their_folder(api_module: ModuleType, name: str) -> None:
    response = api_module.handler(v2_get(f"{ASSETS_PATH}/{name}"), LambdaContext())
    assert response["statusCode"] == 404, response
