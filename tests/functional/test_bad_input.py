"""Every kind of bad input gets a 4xx RFC 9457 problem, never a 500 or a traceback."""

from __future__ import annotations

from types import ModuleType

import pytest

from tests.helpers import LambdaContext, header, response_json, with_body
from tests.hostile import HOSTILE


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
