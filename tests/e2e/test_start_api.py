"""``sam local start-api`` on a free 127.0.0.1 port (warm containers), driven with httpx."""

from __future__ import annotations

import json
from collections.abc import Iterator

import httpx
import pytest

from tests.e2e.checks import BAD_REQUESTS, check_prediction, check_problem, lower_headers
from tests.e2e.samlocal import SamBuild, free_port

pytestmark = [pytest.mark.samlocal, pytest.mark.usefixtures("docker_required")]


@pytest.fixture(scope="module")
def api(sam_build: SamBuild) -> Iterator[httpx.Client]:
    port = free_port()
    with sam_build.serve("start-api", port):
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=120) as client:
            yield client


@pytest.fixture(scope="module")
def manifest(sam_build: SamBuild) -> dict[str, object]:
    data: dict[str, object] = json.loads(
        (sam_build.model_layer / "model" / "manifest.json").read_text(encoding="utf-8")
    )
    return data


def test_predict(api: httpx.Client, manifest: dict[str, object]) -> None:
    response = api.post("/predict", json={"text": "Where is my package? The tracking has not moved in days"})
    assert response.status_code == 200, response.text
    check_prediction(response.json(), list(manifest["classes"]), label="shipping")  # type: ignore[call-overload]


def test_predict_batch(api: httpx.Client, manifest: dict[str, object]) -> None:
    texts = ["Please refund the duplicate payment", "The app crashes when I open settings"]
    response = api.post("/predict/batch", json={"texts": texts})
    assert response.status_code == 200, response.text
    answer = response.json()
    assert [p["label"] for p in answer["predictions"]] == ["billing", "technical"]
    for prediction in answer["predictions"]:
        check_prediction(prediction, list(manifest["classes"]))  # type: ignore[call-overload]


def test_health_and_model(api: httpx.Client, manifest: dict[str, object], sam_build: SamBuild) -> None:
    health = api.get("/health")
    assert health.status_code == 200, health.text
    assert health.json() == {
        "status": "ok",
        "model_version": manifest["version"],
        "backend": sam_build.backend,
    }
    model = api.get("/model")
    assert model.status_code == 200, model.text
    assert model.json()["version"] == manifest["version"]
    assert model.json()["classes"] == manifest["classes"]


def test_docs_and_openapi(api: httpx.Client) -> None:
    spec = api.get("/openapi.json")
    assert spec.status_code == 200, spec.text
    paths = spec.json()["paths"]
    assert {"/predict", "/predict/batch", "/health", "/model"} <= set(paths)
    docs = api.get("/docs")
    assert docs.status_code == 200, docs.text
    assert docs.headers["content-type"].startswith("text/html")
    assert "swagger-ui" in docs.text and "openapi.json" in docs.text
    # the pages' assets come through the template's routes (/redoc, /docs/assets/{proxy+})
    assert "redoc.standalone.js" in api.get("/redoc").text
    for asset, ctype in (
        ("swagger/swagger-ui-bundle.js", "text/javascript"),
        ("swagger/swagger-ui.css", "text/css"),
        ("redoc/redoc.standalone.js", "text/javascript"),
        ("fastapi/favicon.png", "image/png"),
    ):
        got = api.get(f"/docs/assets/{asset}")
        assert got.status_code == 200, (asset, got.text[:300])
        assert got.headers["content-type"].startswith(ctype) and len(got.content) > 500, asset


# Bodies that are not UTF-8 are left out here: sam local's API emulator itself answers 502 for them
# (it decodes JSON bodies as UTF-8 before building the event), where API Gateway would pass them on
# base64-encoded. test_invoke.py / test_start_lambda.py send that event to the function directly.
TEXT_BODIES = [bad for bad in BAD_REQUESTS if not bad[3]]


@pytest.mark.parametrize(
    ("name", "event", "body", "b64", "ctype", "status"), TEXT_BODIES, ids=[bad[0] for bad in TEXT_BODIES]
)
def test_bad_input_gets_a_problem(
    api: httpx.Client, name: str, event: str, body: str, b64: bool, ctype: str, status: int
) -> None:
    path = "/predict/batch" if "batch" in event else "/predict"
    response = api.post(path, content=body.encode("utf-8"), headers={"content-type": ctype})
    check_problem(response.status_code, lower_headers(dict(response.headers)), response.text, expected=status)
