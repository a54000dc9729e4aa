"""What real clients and API Gateway send in production: custom-domain base paths,
authorizer contexts (IAM, JWT), HEAD probes, and the visible-character rule as the schema states it."""

from __future__ import annotations

import copy
import json
import re
import unicodedata
from collections.abc import Callable
from types import ModuleType
from typing import Annotated, Any

import jsonschema_rs
import pytest
from fastapi.testclient import TestClient
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ConfigDict, Field, TypeAdapter, ValidationError

from tests.helpers import LambdaContext, header, load_event, response_json, with_body
from textclf.schemas import BLANK_MESSAGE, INVISIBLE_RANGES, NOT_BLANK_PATTERN, WHITESPACE, request_models
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


@pytest.mark.parametrize("source", ["v2", "v1"])
def test_head_health_is_200_with_get_headers_and_no_body(api_module: ModuleType, source: str) -> None:
    head = api_module.handler(load_event(f"apigw-{source}-health-head.json"), LambdaContext())
    get = api_module.handler(load_event(f"apigw-{source}-health.json"), LambdaContext())
    assert head["statusCode"] == get["statusCode"] == 200, head
    assert head["body"] == ""
    # RFC 9110 9.3.2: a HEAD response's Content-Length is the length GET's body would have
    assert header(head, "content-length") == header(get, "content-length") == str(len(get["body"].encode()))
    assert header(head, "content-type") == header(get, "content-type") == "application/json"
    assert response_json(get)["status"] == "ok"


@pytest.mark.parametrize("source", ["v2", "v1"])
@pytest.mark.parametrize("path", ["/health", "/openapi.json", "/docs", "/model", "/no-such-route"])
def test_every_head_answer_has_get_headers(api_module: ModuleType, source: str, path: str) -> None:
    """Where HEAD is answered with a success, its headers are GET's (Content-Length counts the
    bytes GET sends: the OpenAPI document is UTF-8 with characters beyond ASCII); a refusal
    (405 where only GET is routed, 404) has no body either."""
    head = api_module.handler(
        _v2("apigw-v2-health-head.json", path)
        if source == "v2"
        else _v1("apigw-v1-health-head.json", path, "/prod" + path),
        LambdaContext(),
    )
    get = api_module.handler(
        _v2("apigw-v2-health.json", path)
        if source == "v2"
        else _v1("apigw-v1-health.json", path, "/prod" + path),
        LambdaContext(),
    )
    assert head["body"] == ""
    if 200 <= head["statusCode"] < 300:
        assert head["statusCode"] == get["statusCode"]
        for name in ("content-length", "content-type"):
            assert header(head, name) == header(get, name), name
        assert header(get, "content-length") == str(len(get["body"].encode()))
    else:
        assert head["statusCode"] in (404, 405), head


def test_head_health_under_the_base_path(mapped: Handler) -> None:
    response = mapped(_v2("apigw-v2-health-head.json", "/textclf/health"), LambdaContext())
    assert response["statusCode"] == 200 and response["body"] == ""
    get = mapped(_v2("apigw-v2-health.json", "/textclf/health"), LambdaContext())
    assert header(response, "content-length") == str(len(get["body"])) != "0"


def test_head_on_other_routes_has_no_body_either(api_module: ModuleType) -> None:
    response = api_module.handler(_v2("apigw-v2-health-head.json", "/model"), LambdaContext())
    assert response["statusCode"] == 405 and response["body"] == ""


def test_head_health_over_http(api_module: ModuleType) -> None:
    client = TestClient(api_module.app)
    response = client.head("/health")
    assert response.status_code == 200 and response.content == b""
    assert response.headers["content-length"] == str(len(client.get("/health").content))
    assert "head" in api_module.app.openapi()["paths"]["/health"]


# --- texts without a visible character: the schema states the rule the server enforces -----------------


def test_whitespace_set_covers_python_and_json_schema_whitespace() -> None:
    python_space = {chr(i) for i in range(0x110000) if chr(i).isspace()}
    # ECMA-262 \s: WhiteSpace and LineTerminator code points
    ecma_space = set("\t\n\x0b\x0c\r \xa0\u1680\u2028\u2029\u202f\u205f\u3000\ufeff") | {
        chr(c) for c in range(0x2000, 0x200B)
    }
    assert python_space | ecma_space == set(WHITESPACE)


# Unicode 15.1 (Python 3.13's unicodedata), from the UCD files the names come from:
# DerivedCoreProperties.txt, Default_Ignorable_Code_Point (assigned code points only)
DEFAULT_IGNORABLE = [
    (0x00AD, 0x00AD), (0x034F, 0x034F), (0x061C, 0x061C), (0x115F, 0x1160), (0x17B4, 0x17B5),
    (0x180B, 0x180F), (0x200B, 0x200F), (0x202A, 0x202E), (0x2060, 0x2064), (0x2066, 0x206F),
    (0x3164, 0x3164), (0xFE00, 0xFE0F), (0xFEFF, 0xFEFF), (0xFFA0, 0xFFA0), (0x1BCA0, 0x1BCA3),
    (0x1D173, 0x1D17A), (0xE0001, 0xE0001), (0xE0020, 0xE007F), (0xE0100, 0xE01EF),
]  # fmt: skip
# PropList.txt, Prepended_Concatenation_Mark: format characters that are drawn
PREPENDED_CONCATENATION_MARK = [
    0x0600,
    0x0601,
    0x0602,
    0x0603,
    0x0604,
    0x0605,
    0x06DD,
    0x070F,
    0x0890,
    0x0891,
]
PREPENDED_CONCATENATION_MARK += [0x08E2, 0x110BD, 0x110CD]
PCM_CHARS = "".join(map(chr, PREPENDED_CONCATENATION_MARK))
INVISIBLE = {chr(c) for first, last in INVISIBLE_RANGES for c in range(first, last + 1)}


def _code_points() -> list[str]:
    return [chr(i) for i in range(0x110000) if not 0xD800 <= i <= 0xDFFF]


def test_invisible_is_whitespace_controls_format_and_default_ignorables() -> None:
    expected = set(WHITESPACE) | {
        c
        for c in _code_points()
        if unicodedata.category(c) in ("Cc", "Cf") and ord(c) not in PREPENDED_CONCATENATION_MARK
    }
    expected |= {chr(c) for first, last in DEFAULT_IGNORABLE for c in range(first, last + 1)}
    assert sorted(map(ord, INVISIBLE ^ expected)) == []


def test_pattern_matches_exactly_the_texts_the_server_accepts() -> None:
    pattern = re.compile(NOT_BLANK_PATTERN)
    mismatches = [hex(ord(c)) for c in _code_points() if bool(pattern.search(c)) == (c in INVISIBLE)]
    assert mismatches == []
    predict_in, _ = request_models(max_text_chars=10, max_batch_size=2)

    def served(c: str) -> bool:
        try:
            predict_in.model_validate({"text": c})
        except ValidationError:
            return False
        return True

    assert [hex(ord(c)) for c in _code_points() if served(c) == (c in INVISIBLE)] == []


@pytest.mark.parametrize("path", ["/predict", "/predict/batch"])
def test_openapi_states_the_not_blank_pattern(api_module: ModuleType, path: str) -> None:
    spec = api_module.app.openapi()
    ref = spec["paths"][path]["post"]["requestBody"]["content"]["application/json"]["schema"]["$ref"]
    schema = spec["components"]["schemas"][ref.rsplit("/", 1)[1]]
    text = schema["properties"]["text"] if path == "/predict" else schema["properties"]["texts"]["items"]
    assert text["pattern"] == NOT_BLANK_PATTERN
    assert text["minLength"] == 1


def test_rust_regex_and_json_schema_read_the_pattern_the_same_way() -> None:
    """pydantic-core's Rust regex engine, and a JSON Schema validator (ECMA-262 patterns, with
    Unicode code points as JSON Schema reads them), against every code point."""
    rust = TypeAdapter(
        Annotated[str, Field(pattern=NOT_BLANK_PATTERN)], config=ConfigDict(regex_engine="rust-regex")
    )

    def rust_accepts(c: str) -> bool:
        try:
            rust.validate_python(c)
        except ValidationError:
            return False
        return True

    validator = jsonschema_rs.validator_for({"type": "string", "pattern": NOT_BLANK_PATTERN})
    everything = _code_points()
    assert [hex(ord(c)) for c in everything if rust_accepts(c) == (c in INVISIBLE)] == []
    assert [hex(ord(c)) for c in everything if validator.is_valid(c) == (c in INVISIBLE)] == []


@pytest.mark.parametrize(
    "blank",
    [
        *WHITESPACE,
        " \t\n",
        "\u3000\ufeff",
        "\x1c\x1d\x1e\x1f",
        WHITESPACE * 3,
        "\u200b",
        "\u200b" * 40,
        "\x00",
        "\x00\x01\x7f\x9f",
        " \u00ad ",
        "\u200c\u200d\u2060\u2063\u202e",
        "\ufe0f\u180e\u3164\u115f",
        "\U000e0001\U000e0041\U000e007f",
        "\U0001d173\U000e0100 \ufffb",
    ],
)
def test_texts_without_a_visible_character_are_422_and_fail_the_pattern(
    api_module: ModuleType, blank: str
) -> None:
    assert not re.search(NOT_BLANK_PATTERN, blank)
    client = TestClient(api_module.app)
    response = client.post("/predict", json={"text": blank})
    assert response.status_code == 422, response.text
    response = client.post("/predict/batch", json={"texts": ["fine text", blank]})
    assert response.status_code == 422, response.text
    assert BLANK_MESSAGE in response.json()["detail"]
    assert response.json()["errors"][0]["loc"] == ["body", "texts", "1"]


@pytest.mark.parametrize(
    "text", ["a", "\ufeffx", "\u200bhi\u200b", "\u0600", "\u0301", "\U0001f600", "\u2800x"]
)
def test_texts_the_pattern_accepts_are_served(api_module: ModuleType, text: str) -> None:
    assert re.search(NOT_BLANK_PATTERN, text)
    response = TestClient(api_module.app).post("/predict", json={"text": text})
    assert response.status_code == 200, response.text


invisible = st.characters(categories=("Cc", "Cf", "Zs", "Zl", "Zp"), exclude_characters=PCM_CHARS)
visible = st.characters(categories=("L", "M", "N", "P", "S")).filter(lambda c: c not in INVISIBLE)


@settings(max_examples=80, deadline=None)
@given(texts=st.lists(st.text(invisible, min_size=1, max_size=30), min_size=1, max_size=3))
@pytest.mark.parametrize("source", ["v2", "v1"])
def test_any_text_of_invisible_characters_is_refused(
    api_module: ModuleType, source: str, texts: list[str]
) -> None:
    body = json.dumps({"texts": ["fine text", *texts]})
    response = api_module.handler(with_body(f"apigw-{source}-predict-batch.json", body), LambdaContext())
    assert response["statusCode"] == 422, response
    problem = response_json(response)
    assert {tuple(e["loc"]) for e in problem["errors"]} == {
        ("body", "texts", str(i + 1)) for i in range(len(texts))
    }
    assert all(e["msg"] == f"Value error, {BLANK_MESSAGE}" for e in problem["errors"])


@settings(max_examples=80, deadline=None)
@given(before=st.text(invisible, max_size=10), char=visible, after=st.text(invisible, max_size=10))
@pytest.mark.parametrize("source", ["v2", "v1"])
def test_one_visible_character_is_enough(
    api_module: ModuleType, source: str, before: str, char: str, after: str
) -> None:
    body = json.dumps({"text": before + char + after})
    response = api_module.handler(with_body(f"apigw-{source}-predict.json", body), LambdaContext())
    assert response["statusCode"] == 200, response


def test_events_are_not_modified(mapped: Handler) -> None:
    event = load_event("apigw-v2-predict-custom-domain-iam.json")
    before = copy.deepcopy(event)
    mapped(event, LambdaContext())
    assert event == before
