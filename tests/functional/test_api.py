"""The API through FastAPI's TestClient: routes, schemas and the problem format."""

from __future__ import annotations

import math
from types import ModuleType

import pytest
from fastapi.testclient import TestClient

CLASSES = {"account", "billing", "returns", "shipping", "technical"}


@pytest.fixture(scope="module")
def client(api_module: ModuleType) -> TestClient:
    return TestClient(api_module.app)


def assert_problem(response, status: int) -> dict:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    body = response.json()
    assert body["status"] == status
    assert body["type"].startswith("urn:textclf:problem:")
    assert body["title"] and body["detail"]
    assert "Traceback" not in response.text
    return body


@pytest.mark.parametrize(
    ("text", "label"),
    [
        ("I was charged twice for my subscription this month", "billing"),
        ("my parcel still hasn't arrived and the tracking hasn't moved in a week", "shipping"),
        ("how do I send back a jacket that doesn't fit?", "returns"),
        ("I forgot my password and the reset email never comes", "account"),
        ("the app crashes as soon as I open the checkout page", "technical"),
    ],
)
def test_predict_returns_label_scores_and_version(client: TestClient, api_module, text, label) -> None:
    response = client.post("/predict", json={"text": text})
    assert response.status_code == 200
    body = response.json()
    assert body["label"] == label
    assert set(body["scores"]) == CLASSES
    assert math.isclose(sum(body["scores"].values()), 1.0, abs_tol=1e-6)
    assert body["scores"][label] == max(body["scores"].values())
    assert body["model_version"] == api_module.predictor.version


def test_batch_matches_single_predictions(client: TestClient) -> None:
    texts = ["refund my double charge", "where is my order", "I want to return these boots"]
    batch = client.post("/predict/batch", json={"texts": texts}).json()
    assert len(batch["predictions"]) == 3
    for text, pred in zip(texts, batch["predictions"], strict=True):
        single = client.post("/predict", json={"text": text}).json()
        assert pred["label"] == single["label"]
        assert pred["scores"] == pytest.approx(single["scores"], abs=1e-12)
        assert pred["model_version"] == batch["model_version"]


def test_health_and_model(client: TestClient, api_module) -> None:
    health = client.get("/health")
    assert health.status_code == 200
    assert health.json() == {
        "status": "ok",
        "model_version": api_module.predictor.version,
        "backend": api_module.predictor.backend,
    }
    manifest = client.get("/model").json()
    assert set(manifest["classes"]) == CLASSES
    assert manifest["version"] == api_module.predictor.version
    assert 0.6 < manifest["metrics"]["accuracy"] <= 1.0
    assert 0.6 < manifest["metrics"]["macro_f1"] <= 1.0


def test_openapi_documents_routes_and_limits(client: TestClient) -> None:
    spec = client.get("/openapi.json").json()
    assert {"/predict", "/predict/batch", "/health", "/model"} <= set(spec["paths"])
    schemas = spec["components"]["schemas"]
    assert schemas["PredictIn"]["properties"]["text"]["maxLength"] == 5000
    assert schemas["BatchPredictIn"]["properties"]["texts"]["maxItems"] == 64
    # the prediction routes read their own body (DirectRoute) but are documented as usual
    for path, body, out in (
        ("/predict", "PredictIn", "PredictionOut"),
        ("/predict/batch", "BatchPredictIn", "BatchPredictionOut"),
    ):
        post = spec["paths"][path]["post"]
        assert post["requestBody"]["content"]["application/json"]["schema"]["$ref"].endswith("/" + body)
        assert post["responses"]["200"]["content"]["application/json"]["schema"]["$ref"].endswith("/" + out)
        for status in ("400", "415", "422"):
            problem = post["responses"][status]["content"]["application/problem+json"]["schema"]
            assert problem["$ref"].endswith("/Problem")
    assert set(schemas["Problem"]["required"]) == {"type", "title", "status", "detail"}
    docs = client.get("/docs")
    assert docs.status_code == 200 and "swagger-ui" in docs.text


def test_text_over_limit_is_422(client: TestClient) -> None:
    body = assert_problem(client.post("/predict", json={"text": "a" * 5001}), 422)
    assert body["errors"][0]["type"] == "string_too_long"
    assert "aaaa" not in str(body)  # the input is never echoed back


def test_batch_over_limit_is_422(client: TestClient) -> None:
    body = assert_problem(client.post("/predict/batch", json={"texts": ["hello"] * 65}), 422)
    assert body["errors"][0]["loc"] == ["body", "texts"]


def test_limits_come_from_the_environment(model_dir, clean_env) -> None:
    from tests.helpers import load_function

    clean_env.setenv("MODEL_DIR", str(model_dir))
    clean_env.setenv("MAX_TEXT_CHARS", "10")
    clean_env.setenv("MAX_BATCH_SIZE", "2")
    client = TestClient(load_function("api").app)
    assert client.post("/predict", json={"text": "0123456789"}).status_code == 200
    assert_problem(client.post("/predict", json={"text": "0123456789x"}), 422)
    assert_problem(client.post("/predict/batch", json={"texts": ["a", "b", "c"]}), 422)
