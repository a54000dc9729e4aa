"""Every kind of bad input gets a 4xx RFC 9457 problem, never a 500 or a traceback."""

from __future__ import annotations

import base64
import json
from types import ModuleType

import pytest

from tests.helpers import LambdaContext, header, response_json, with_body

# (name, event file, raw body, base64?, content-type, expected status)
HOSTILE: list[tuple[str, str, str | None, bool, str, int]] = [
    ("malformed json", "apigw-v2-predict.json", '{"text": "unterminated', False, "application/json", 400),
    ("json array", "apigw-v2-predict.json", '["a", "b"]', False, "application/json", 422),
    ("json string", "apigw-v2-predict.json", '"just a string"', False, "application/json", 422),
    ("json null", "apigw-v2-predict.json", "null", False, "application/json", 422),
    ("no body", "apigw-v2-predict.json", None, False, "application/json", 422),
    ("empty body", "apigw-v2-predict.json", "", False, "application/json", 422),
    ("missing field", "apigw-v2-predict.json", '{"txt": "hello"}', False, "application/json", 422),
    ("wrong type number", "apigw-v2-predict.json", '{"text": 42}', False, "application/json", 422),
    ("wrong type list", "apigw-v2-predict.json", '{"text": ["a"]}', False, "application/json", 422),
    ("empty text", "apigw-v2-predict.json", '{"text": ""}', False, "application/json", 422),
    ("whitespace text", "apigw-v2-predict.json", '{"text": " \\n\\t "}', False, "application/json", 422),
    ("too long", "apigw-v2-predict.json", json.dumps({"text": "x" * 5001}), False, "application/json", 422),
    ("extra field", "apigw-v2-predict.json", '{"text": "hi", "admin": true}', False, "application/json", 422),
    ("batch not list", "apigw-v2-predict-batch.json", '{"texts": "hello"}', False, "application/json", 422),
    ("batch empty", "apigw-v2-predict-batch.json", '{"texts": []}', False, "application/json", 422),
    (
        "batch blank item",
        "apigw-v2-predict-batch.json",
        '{"texts": ["ok", "  "]}',
        False,
        "application/json",
        422,
    ),
    (
        "batch null item",
        "apigw-v2-predict-batch.json",
        '{"texts": ["ok", null]}',
        False,
        "application/json",
        422,
    ),
    (
        "batch too big",
        "apigw-v2-predict-batch.json",
        json.dumps({"texts": ["a"] * 65}),
        False,
        "application/json",
        422,
    ),
    (
        "not utf-8 (base64)",
        "apigw-v2-predict.json",
        base64.b64encode(b'{"text": "caf\xe9 \xff"}').decode(),
        True,
        "application/json",
        400,
    ),
    ("invalid base64", "apigw-v2-predict.json", "@@not-base64@@", True, "application/json", 400),
    ("form body", "apigw-v2-predict.json", "text=hello", False, "application/x-www-form-urlencoded", 415),
    ("text/plain", "apigw-v2-predict.json", '{"text": "hi"}', False, "text/plain", 415),
    ("deeply nested", "apigw-v2-predict.json", "[" * 5000 + "]" * 5000, False, "application/json", 422),
    ("huge number", "apigw-v2-predict.json", '{"text": 1e999999}', False, "application/json", 422),
    ("v1 malformed", "apigw-v1-predict.json", "{", False, "application/json", 400),
    ("v1 empty text", "apigw-v1-predict.json", '{"text": ""}', False, "application/json", 422),
    ("v1 bad base64", "apigw-v1-predict.json", "%%%", True, "application/json", 400),
]


@pytest.mark.parametrize(
    ("name", "event", "body", "b64", "ctype", "status"), HOSTILE, ids=[h[0] for h in HOSTILE]
)
def test_hostile_request_gets_a_problem(
    api_module: ModuleType, name: str, event: str, body: str | None, b64: bool, ctype: str, status: int
) -> None:
    response = api_module.handler(with_body(event, body, base64=b64, content_type=ctype), LambdaContext())
    assert response["statusCode"] == status, response
    assert header(response, "content-type") == "application/problem+json"
    problem = response_json(response)
    assert problem["status"] == status
    assert problem["type"].startswith("urn:textclf:problem:")
    assert "Traceback" not in response["body"] and 'File "' not in response["body"]


def test_unknown_route_and_wrong_method(api_module: ModuleType) -> None:
    event = with_body("apigw-v2-health.json", None)
    event["rawPath"] = event["requestContext"]["http"]["path"] = "/admin"
    response = api_module.handler(event, LambdaContext())
    assert response["statusCode"] == 404
    assert response_json(response)["type"] == "urn:textclf:problem:http-404"

    event = with_body("apigw-v2-predict.json", None)
    event["requestContext"]["http"]["method"] = "DELETE"
    response = api_module.handler(event, LambdaContext())
    assert response["statusCode"] == 405
    assert header(response, "content-type") == "application/problem+json"


def test_internal_error_is_a_problem_without_details(api_module: ModuleType, monkeypatch) -> None:
    def boom(texts):
        raise RuntimeError("secret internal detail")

    monkeypatch.setattr(api_module.predictor, "predict", boom)
    response = api_module.handler(with_body("apigw-v2-predict.json", '{"text": "hello"}'), LambdaContext())
    assert response["statusCode"] == 500
    problem = response_json(response)
    assert problem["type"] == "urn:textclf:problem:internal-error"
    assert "secret" not in response["body"] and "Traceback" not in response["body"]
