"""The API Gateway event sources as Mangum custom handlers (``textclf_api.gateway``).

Real event shapes (``tests/events``: HTTP API payload 2.0, REST API payload 1.0, named stages,
custom-domain base paths, base64 bodies) go through Mangum with the custom handlers, in front of a
small ASGI app that answers with what it received (the scope's path and root path, the body), so
each test sees exactly what the adapter hands an application; the real app's answers to the same
events (a bad base64 body: a 400 problem) are tested in tests/functional (test_handler.py,
test_api_production.py, test_bad_input.py).
"""

from __future__ import annotations

import base64
import copy
import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from mangum import Mangum
from starlette.types import Receive, Scope, Send

from tests.helpers import LambdaContext, header, load_event
from textclf_api.gateway import BAD_BASE64, EVENT_SOURCES, HttpApiV2, RestApiV1, create_handler
from textclf_api.problems import BAD_BODY_KEY


async def echo(scope: Scope, receive: Receive, send: Send) -> None:
    """Answer with what the adapter handed over: path, root path, method, body, bad-body reason."""
    body = b""
    while True:
        message = await receive()
        body += message.get("body", b"")
        if not message.get("more_body"):
            break
    answer = {
        "path": scope["path"],
        "root_path": scope["root_path"],
        "method": scope["method"],
        "body": body.decode("latin-1"),
        "bad_body": scope.get(BAD_BODY_KEY),
    }
    await send(
        {"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"application/json")]}
    )
    await send({"type": "http.response.body", "body": json.dumps(answer).encode()})


def adapter(base_path: str = "") -> Mangum:
    """The handler the function uses (``create_handler``), in front of ``echo``."""
    return create_handler(echo, base_path)


def seen(event: dict[str, Any], base_path: str = "") -> dict[str, Any]:
    response = adapter(base_path)(event, LambdaContext())
    assert response["statusCode"] == 200, response
    return dict(json.loads(response["body"]))


def v2(name: str, path: str, stage: str = "$default") -> dict[str, Any]:
    event = load_event(name)
    event["rawPath"] = event["requestContext"]["http"]["path"] = path
    event["requestContext"]["stage"] = stage
    return event


def v1(name: str, path: str, public: str) -> dict[str, Any]:
    event = load_event(name)
    event["path"] = path
    event["requestContext"]["path"] = public
    return event


# --- which handler an event gets ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("event_name", "expected"),
    [
        ("apigw-v2-predict.json", HttpApiV2),
        ("apigw-v2-docs-stage.json", HttpApiV2),
        ("apigw-v2-predict-custom-domain-iam.json", HttpApiV2),
        ("apigw-v1-predict.json", RestApiV1),
        ("apigw-v1-health-head.json", RestApiV1),
        ("apigw-v1-predict-custom-domain-iam.json", RestApiV1),
    ],
)
def test_each_api_gateway_event_gets_its_own_handler(event_name: str, expected: type) -> None:
    mangum = adapter()
    assert type(mangum.infer(load_event(event_name), LambdaContext())) is expected


def test_events_of_other_sources_are_left_to_mangum() -> None:
    """An S3 or CodeDeploy event is no API Gateway event: neither handler claims it."""
    for name in ("s3-put.json", "codedeploy-pre-traffic.json"):
        event = load_event(name)
        assert not any(h.infer(event, LambdaContext(), adapter().config) for h in EVENT_SOURCES), name


# --- public prefixes: stage and custom-domain base path ------------------------------------------


def test_v2_default_stage_routes_the_path_as_it_is() -> None:
    assert seen(load_event("apigw-v2-predict.json"))["path"] == "/predict"
    assert seen(load_event("apigw-v2-predict.json"))["root_path"] == ""


def test_v2_named_stage_becomes_the_root_path() -> None:
    got = seen(load_event("apigw-v2-docs-stage.json"))  # rawPath /prod/docs, stage prod
    assert (got["root_path"], got["path"]) == ("/prod", "/prod/docs")


def test_v1_stage_from_the_public_path_becomes_the_root_path() -> None:
    """REST events carry the resource path; requestContext.path is the public one (/prod/predict)."""
    got = seen(load_event("apigw-v1-predict.json"))
    assert (got["root_path"], got["path"]) == ("/prod", "/prod/predict")


@pytest.mark.parametrize(
    "event_name", ["apigw-v2-predict-custom-domain-iam.json", "apigw-v1-predict-custom-domain-iam.json"]
)
@pytest.mark.parametrize("base_path", ["textclf", "/textclf", "/textclf/"])
def test_custom_domain_base_path_becomes_the_root_path(event_name: str, base_path: str) -> None:
    got = seen(load_event(event_name), base_path)
    assert (got["root_path"], got["path"]) == ("/textclf", "/textclf/predict")


def test_without_the_setting_a_custom_domain_base_path_stays_in_the_path() -> None:
    got = seen(load_event("apigw-v2-predict-custom-domain-iam.json"))
    assert (got["root_path"], got["path"]) == ("", "/textclf/predict")


@pytest.mark.parametrize("path", ["/textclfx/predict", "/predict/textclf", "/text/predict"])
def test_only_whole_segments_are_a_base_path(path: str) -> None:
    """Mangum's own handlers strip a base path as a string prefix; these match segments."""
    got = seen(v2("apigw-v2-predict.json", path), "textclf")
    assert (got["root_path"], got["path"]) == ("", path)


def test_the_execute_api_url_keeps_working_beside_a_base_path() -> None:
    got = seen(v2("apigw-v2-predict.json", "/prod/predict", stage="prod"), "textclf")
    assert (got["root_path"], got["path"]) == ("/prod", "/prod/predict")
    got = seen(v1("apigw-v1-predict.json", "/predict", "/prod/predict"), "textclf")
    assert (got["root_path"], got["path"]) == ("/prod", "/prod/predict")


segment = st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789._~-", min_size=1, max_size=8).filter(
    lambda s: s not in (".", "..")
)


@settings(max_examples=100, deadline=None)  # a shared machine's load is no failure
@given(base=st.lists(segment, min_size=1, max_size=3), route=st.lists(segment, min_size=0, max_size=3))
def test_any_base_path_is_recognised_on_any_route(base: list[str], route: list[str]) -> None:
    """Generated base paths and routes: under the base path, the prefix is the root path and the
    route stays below it; the same route without it is routed unchanged (v2 and v1 alike)."""
    prefix, rest = "/" + "/".join(base), "/" + "/".join(route)
    full = prefix + rest if route else prefix
    for event in (v2("apigw-v2-health.json", full), v1("apigw-v1-health.json", full, full)):
        got = seen(event, prefix)
        assert (got["root_path"], got["path"]) == (prefix, full)
    if route and not (rest + "/").startswith(prefix + "/"):
        got = seen(v2("apigw-v2-health.json", rest), prefix)
        assert (got["root_path"], got["path"]) == ("", rest)


# --- bodies ---------------------------------------------------------------------------------


def test_a_base64_body_is_decoded() -> None:
    event = load_event("apigw-v2-predict-base64.json")
    got = seen(event)
    assert got["body"] == base64.b64decode(event["body"]).decode() and got["bad_body"] is None


def test_a_binary_base64_body_reaches_the_app_as_bytes() -> None:
    raw = bytes(range(256))
    event = load_event("apigw-v1-predict.json", body=base64.b64encode(raw).decode(), isBase64Encoded=True)
    assert seen(event)["body"].encode("latin-1") == raw


@pytest.mark.parametrize("body", ["not base64!", "eyJ0ZXh0Ijo", "=====", "eyJ0ZXh0IjogImEifQ==\n%%"])
@pytest.mark.parametrize("event_name", ["apigw-v2-predict.json", "apigw-v1-predict.json"])
def test_a_body_flagged_base64_that_is_not_reaches_the_app_empty_with_the_reason(
    event_name: str, body: str
) -> None:
    got = seen(load_event(event_name, body=body, isBase64Encoded=True))
    assert (got["body"], got["bad_body"]) == ("", BAD_BASE64)


def test_a_plain_body_passes_unchanged_and_no_body_is_empty() -> None:
    event = load_event("apigw-v2-predict.json")
    assert seen(event)["body"] == event["body"]
    assert seen(load_event("apigw-v2-health.json"))["body"] == ""
    assert seen(load_event("apigw-v1-health.json", body=None))["body"] == ""


# --- responses ------------------------------------------------------------------------------


@pytest.mark.parametrize("event_name", ["apigw-v2-health-head.json", "apigw-v1-health-head.json"])
def test_a_response_to_head_has_no_body(event_name: str) -> None:
    response = adapter()(load_event(event_name), LambdaContext())
    assert response["statusCode"] == 200 and response["body"] == ""
    assert header(response, "content-type") == "application/json"


def test_v2_and_v1_responses_have_their_source_shapes() -> None:
    v2_answer = adapter()(load_event("apigw-v2-health.json"), LambdaContext())
    assert "multiValueHeaders" not in v2_answer and v2_answer["isBase64Encoded"] is False
    v1_answer = adapter()(load_event("apigw-v1-health.json"), LambdaContext())
    assert set(v1_answer) == {"statusCode", "headers", "multiValueHeaders", "body", "isBase64Encoded"}


def test_the_event_is_not_modified() -> None:
    event = load_event("apigw-v1-predict-custom-domain-iam.json")
    before = copy.deepcopy(event)
    seen(event, "textclf")
    assert event == before
