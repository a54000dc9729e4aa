"""What real clients and API Gateway send in production: custom-domain base paths,
authorizer contexts (IAM, JWT), HEAD probes, and the whitespace rule as the schema states it."""

from __future__ import annotations

import copy
import re
from collections.abc import Callable
from types import ModuleType
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.helpers import LambdaContext, header, load_event, response_json
from textclf.schemas import NOT_BLANK_PATTERN, WHITESPACE
from textclf.settings import Settings, SettingsError, get_settings
from textclf_api.factory import create_app
from textclf_api.gateway import create_handler

Handler = Callable[[dict[str, Any], Any], dict[str, Any]]


def _handler(api_module: ModuleType, base_path: str) -> Handler:
    settings = Settings(model_dir=api_module.settings.model_dir, api_base_path=base_path)
    return create_handler(create_app(api_module.predictor, settings), base_path=settings.api_base_path)


@pytest.fixture(scope="module")
def mapped(api_module: ModuleType) -> Handler:
    """The handler of a deployment whose custom domain maps the API under /textclf."""
    return _handler(api_module, "textclf")


def _v2(name: str, path: str, method: str | None = None) -> dict[str, Any]:
    event = load_event(name)
    event["rawPath"] = event["requestContext"]["http"]["path"] = path
    if method:
        event["requestContext"]["http"]["method"] = method
    return event


def _v1(name: str, path: str, public: str | None = None, method: str | None = None) -> dict[str, Any]:
    event = load_event(name)
    event["path"] = path
    event["requestContext"]["path"] = public if public is not None else path
    if method:
        event["httpMethod"] = event["requestContext"]["httpMethod"] = method
    return event


# --- custom domain base path -------------------------------------------------------------


@pytest.mark.parametrize(
    "event_name", ["apigw-v2-predict-custom-domain-iam.json", "apigw-v1-predict-custom-domain-iam.json"]
)
def test_predict_under_the_custom_domain_base_path(mapped: Handler, event_name: str) -> None:
    event = load_event(event_name)
    assert "/textclf/predict" in (event.get("rawPath"), event.get("path"))
    response = mapped(event, LambdaContext())
    assert response["statusCode"] == 200, response
    assert response_json(response)["label"] in {"billing", "shipping"}


def test_without_the_setting_a_base_path_is_an_unknown_route(api_module: ModuleType) -> None:
    response = api_module.handler(load_event("apigw-v2-predict-custom-domain-iam.json"), LambdaContext())
    assert response["statusCode"] == 404
    assert "/textclf/predict" in response_json(response)["detail"]


@pytest.mark.parametrize("base", ["textclf", "/textclf", "/textclf/", "v1/text-clf", "/a.b~c_d/e"])
@pytest.mark.parametrize("version", ["v1", "v2"])
def test_every_route_answers_under_a_base_path_and_without_it(
    api_module: ModuleType, base: str, version: str
) -> None:
    handler = _handler(api_module, base)
    prefix = "/" + base.strip("/")
    for public in (prefix, ""):  # custom domain, then the execute-api URL of the same stack
        if version == "v2":
            predict = _v2("apigw-v2-predict.json", f"{public}/predict")
            health = _v2("apigw-v2-health.json", f"{public}/health")
            docs = _v2("apigw-v2-health.json", f"{public}/docs")
            spec = _v2("apigw-v2-health.json", f"{public}/openapi.json")
        else:
            predict = _v1("apigw-v1-predict.json", f"{public}/predict")
            health = _v1("apigw-v1-health.json", f"{public}/health")
            docs = _v1("apigw-v1-health.json", f"{public}/docs")
            spec = _v1("apigw-v1-health.json", f"{public}/openapi.json")
        assert handler(predict, LambdaContext())["statusCode"] == 200
        assert response_json(handler(health, LambdaContext()))["status"] == "ok"
        page = handler(docs, LambdaContext())
        assert page["statusCode"] == 200 and f"url: '{public}/openapi.json'" in page["body"]
        assert response_json(handler(spec, LambdaContext()))["openapi"].startswith("3.")


@pytest.mark.parametrize("version", ["v1", "v2"])
def test_redirects_keep_the_base_path(mapped: Handler, version: str) -> None:
    if version == "v2":
        event = _v2("apigw-v2-health.json", "/textclf/health/")
    else:
        event = _v1("apigw-v1-health.json", "/textclf/health/")
    response = mapped(event, LambdaContext())
    assert response["statusCode"] == 307, response
    location = header(response, "location")
    assert location is not None and location.endswith("/textclf/health"), location


@pytest.mark.parametrize("path", ["/textclfx/predict", "/predict/textclf", "/text/predict"])
def test_a_path_that_only_resembles_the_base_path_is_not_stripped(mapped: Handler, path: str) -> None:
    response = mapped(_v2("apigw-v2-predict.json", path), LambdaContext())
    assert response["statusCode"] == 404
    assert header(response, "content-type") == "application/problem+json"


def test_named_stage_on_the_execute_api_url_still_works_with_a_base_path(mapped: Handler) -> None:
    v2 = _v2("apigw-v2-predict.json", "/prod/predict")
    v2["requestContext"]["stage"] = "prod"
    assert mapped(v2, LambdaContext())["statusCode"] == 200
    v1 = _v1("apigw-v1-predict.json", "/predict", public="/prod/predict")
    assert mapped(v1, LambdaContext())["statusCode"] == 200


@pytest.mark.parametrize(
    ("value", "expected"),
    [("", ""), ("/", ""), ("textclf", "/textclf"), ("/textclf/", "/textclf"), ("a/b", "/a/b")],
)
def test_base_path_setting_is_normalised(clean_env: pytest.MonkeyPatch, value: str, expected: str) -> None:
    clean_env.setenv("API_BASE_PATH", value)
    assert get_settings().api_base_path == expected


@pytest.mark.parametrize("value", ["a b", "/a//b", "https://api.example.com/x", "/x?y=1", "/%2e"])
def test_a_bad_base_path_fails_at_start_up(clean_env: pytest.MonkeyPatch, value: str) -> None:
    clean_env.setenv("API_BASE_PATH", value)
    with pytest.raises(SettingsError, match="API_BASE_PATH"):
        get_settings()


# --- authorizer contexts -------------------------------------------------------------------


@pytest.mark.parametrize(
    "event_name",
    [
        "apigw-v2-predict-custom-domain-iam.json",
        "apigw-v2-predict-jwt.json",
        "apigw-v1-predict-custom-domain-iam.json",
        "apigw-v1-predict-jwt.json",
    ],
)
def test_events_with_authorizer_contexts_are_served(mapped: Handler, event_name: str) -> None:
    """API Gateway authenticates; the function serves what it forwards, whatever the authorizer."""
    event = load_event(event_name)
    context = event["requestContext"]
    assert context.get("authorizer") or context["identity"]["userArn"]
    response = mapped(event, LambdaContext())
    assert response["statusCode"] == 200, response
    assert set(response_json(response)) == {"label", "scores", "model_version"}


# --- HEAD ------------------------------------------------------------------------------------


@pytest.mark.parametrize("event_name", ["apigw-v2-health-head.json", "apigw-v1-health-head.json"])
def test_head_health_is_200_without_a_body(api_module: ModuleType, event_name: str) -> None:
    response = api_module.handler(load_event(event_name), LambdaContext())
    assert response["statusCode"] == 200, response
    assert response["body"] == ""


def test_head_health_under_the_base_path(mapped: Handler) -> None:
    response = mapped(_v2("apigw-v2-health-head.json", "/textclf/health"), LambdaContext())
    assert response["statusCode"] == 200 and response["body"] == ""


def test_head_on_other_routes_has_no_body_either(api_module: ModuleType) -> None:
    response = api_module.handler(_v2("apigw-v2-health-head.json", "/model"), LambdaContext())
    assert response["statusCode"] == 405 and response["body"] == ""


def test_head_health_over_http(api_module: ModuleType) -> None:
    response = TestClient(api_module.app).head("/health")
    assert response.status_code == 200 and response.content == b""
    assert "head" in api_module.app.openapi()["paths"]["/health"]


# --- whitespace-only texts: the schema states the rule the server enforces -----------------


def test_whitespace_set_covers_python_and_json_schema_whitespace() -> None:
    python_space = {chr(i) for i in range(0x110000) if chr(i).isspace()}
    # ECMA-262 \s: WhiteSpace and LineTerminator code points
    ecma_space = set("\t\n\x0b\x0c\r \xa0\u1680\u2028\u2029\u202f\u205f\u3000\ufeff") | {
        chr(c) for c in range(0x2000, 0x200B)
    }
    assert python_space | ecma_space == set(WHITESPACE)


def test_pattern_matches_exactly_the_texts_the_server_accepts() -> None:
    pattern = re.compile(NOT_BLANK_PATTERN)
    mismatches = [hex(i) for i in range(0x110000) if bool(pattern.search(chr(i))) == (chr(i) in WHITESPACE)]
    assert mismatches == []


@pytest.mark.parametrize("path", ["/predict", "/predict/batch"])
def test_openapi_states_the_not_blank_pattern(api_module: ModuleType, path: str) -> None:
    spec = api_module.app.openapi()
    ref = spec["paths"][path]["post"]["requestBody"]["content"]["application/json"]["schema"]["$ref"]
    schema = spec["components"]["schemas"][ref.rsplit("/", 1)[1]]
    text = schema["properties"]["text"] if path == "/predict" else schema["properties"]["texts"]["items"]
    assert text["pattern"] == NOT_BLANK_PATTERN
    assert text["minLength"] == 1


@pytest.mark.parametrize("blank", [*WHITESPACE, " \t\n", "\u3000\ufeff", "\x1c\x1d\x1e\x1f", WHITESPACE * 3])
def test_blank_texts_are_422_and_fail_the_pattern(api_module: ModuleType, blank: str) -> None:
    assert not re.search(NOT_BLANK_PATTERN, blank)
    client = TestClient(api_module.app)
    response = client.post("/predict", json={"text": blank})
    assert response.status_code == 422, response.text
    response = client.post("/predict/batch", json={"texts": ["fine text", blank]})
    assert response.status_code == 422, response.text
    assert "non-whitespace" in response.json()["detail"]


@pytest.mark.parametrize("text", ["\u200b", "\x00", "a", " \u00ad ", "\ufeffx"])
def test_texts_the_pattern_accepts_are_served(api_module: ModuleType, text: str) -> None:
    assert re.search(NOT_BLANK_PATTERN, text)
    response = TestClient(api_module.app).post("/predict", json={"text": text})
    assert response.status_code == 200, response.text


def test_events_are_not_modified(mapped: Handler) -> None:
    event = load_event("apigw-v2-predict-custom-domain-iam.json")
    before = copy.deepcopy(event)
    mapped(event, LambdaContext())
    assert event == before
