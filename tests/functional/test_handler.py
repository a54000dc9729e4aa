"""Real API Gateway events (HTTP API v2 and REST API v1) through ``app.handler``."""

from __future__ import annotations

import json
import math
from types import ModuleType

import pytest

from tests.helpers import LambdaContext, header, load_event, response_json


@pytest.mark.parametrize(
    ("event_name", "label"),
    [
        ("apigw-v2-predict.json", "billing"),
        ("apigw-v2-predict-base64.json", "shipping"),
        ("apigw-v1-predict.json", "shipping"),
    ],
)
def test_predict_event(api_module: ModuleType, event_name: str, label: str) -> None:
    response = api_module.handler(load_event(event_name), LambdaContext())
    assert response["statusCode"] == 200, response
    assert header(response, "content-type") == "application/json"
    body = response_json(response)
    assert body["label"] == label
    assert math.isclose(sum(body["scores"].values()), 1.0, abs_tol=1e-6)
    assert body["model_version"] == api_module.predictor.version


@pytest.mark.parametrize(
    ("event_name", "labels"),
    [
        ("apigw-v2-predict-batch.json", ["account", "technical", "returns"]),
        ("apigw-v1-predict-batch.json", ["account", "billing"]),
    ],
)
def test_batch_event(api_module: ModuleType, event_name: str, labels: list[str]) -> None:
    response = api_module.handler(load_event(event_name), LambdaContext())
    assert response["statusCode"] == 200, response
    body = response_json(response)
    assert [p["label"] for p in body["predictions"]] == labels


@pytest.mark.parametrize("event_name", ["apigw-v2-health.json", "apigw-v1-health.json"])
def test_health_event(api_module: ModuleType, event_name: str) -> None:
    response = api_module.handler(load_event(event_name), LambdaContext())
    assert response["statusCode"] == 200
    assert response_json(response)["model_version"] == api_module.predictor.version


def test_v1_response_shape(api_module: ModuleType) -> None:
    response = api_module.handler(load_event("apigw-v1-health.json"), LambdaContext())
    assert set(response) >= {"statusCode", "headers", "multiValueHeaders", "body", "isBase64Encoded"}


def test_empty_text_event_is_422(api_module: ModuleType) -> None:
    response = api_module.handler(load_event("apigw-v2-predict-empty.json"), LambdaContext())
    assert response["statusCode"] == 422
    assert header(response, "content-type") == "application/problem+json"


@pytest.mark.parametrize(
    ("event_name", "openapi_url"),
    [("apigw-v2-docs-stage.json", "/prod/openapi.json"), ("apigw-v1-docs.json", "/prod/openapi.json")],
)
def test_docs_under_a_stage_path(api_module: ModuleType, event_name: str, openapi_url: str) -> None:
    """Under a named stage the docs page must load the spec from /<stage>/openapi.json."""
    response = api_module.handler(load_event(event_name), LambdaContext())
    assert response["statusCode"] == 200, response
    assert f"url: '{openapi_url}'" in response["body"]


def test_routes_under_a_named_v2_stage(api_module: ModuleType) -> None:
    event = load_event("apigw-v2-predict.json")
    event["requestContext"]["stage"] = "prod"
    event["rawPath"] = event["requestContext"]["http"]["path"] = "/prod/predict"
    response = api_module.handler(event, LambdaContext())
    assert response["statusCode"] == 200, response
    assert response_json(response)["label"] == "billing"


def test_default_stage_docs_use_root(api_module: ModuleType) -> None:
    event = load_event("apigw-v2-docs-stage.json")
    event["requestContext"]["stage"] = "$default"
    event["rawPath"] = event["requestContext"]["http"]["path"] = "/docs"
    response = api_module.handler(event, LambdaContext())
    assert response["statusCode"] == 200
    assert "url: '/openapi.json'" in response["body"]


def test_user_text_is_not_logged(api_module: ModuleType, capsys: pytest.CaptureFixture[str]) -> None:
    secret = "my card number is 4111 1111 1111 1111"
    event = load_event("apigw-v2-predict.json")
    event["body"] = json.dumps({"text": secret})
    api_module.logger.setLevel("DEBUG")
    try:
        assert api_module.handler(event, LambdaContext())["statusCode"] == 200
    finally:
        api_module.logger.setLevel("WARNING")
    captured = capsys.readouterr()
    assert "4111" not in captured.out + captured.err
