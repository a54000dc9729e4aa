"""The two places that build an API Gateway event themselves agree with each other and with the
event API Gateway sends.

The SnapStart warm-up (``textclf_api.snapstart.api_event``) and the pre-traffic hook
(``textclf_hook.check.hook_event``) each build an HTTP API (payload 2.0) event. They are two
small copies on purpose: each function ships only its own ``CodeUri`` folder, and the shared
core knows nothing of API Gateway. This test keeps the copies from drifting apart.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.helpers import load_event
from textclf_api.snapstart import api_event
from textclf_hook.check import hook_event

CALLS = [
    ("GET", "/health", None),
    ("POST", "/predict", {"text": "x"}),
    ("POST", "/predict/batch", {"texts": ["a"]}),
]


def without_request_id(event: dict[str, Any]) -> dict[str, Any]:
    context = {k: v for k, v in event["requestContext"].items() if k != "requestId"}
    return {**event, "requestContext": context}


@pytest.mark.parametrize(("method", "path", "body"), CALLS)
def test_the_warm_up_and_the_hook_build_the_same_event(method: str, path: str, body: Any) -> None:
    assert without_request_id(api_event(method, path, body)) == without_request_id(
        hook_event(method, path, body)
    )


@pytest.mark.parametrize("build", [api_event, hook_event])
def test_a_built_event_has_the_fields_api_gateway_sends(build: Any) -> None:
    sent = load_event("apigw-v2-predict.json")
    built = build("POST", "/predict", {"text": "x"})
    assert built["version"] == sent["version"] == "2.0"
    for key in (
        "routeKey",
        "rawPath",
        "rawQueryString",
        "headers",
        "requestContext",
        "body",
        "isBase64Encoded",
    ):
        assert key in sent and key in built, key
    for key in ("http", "stage", "requestId", "routeKey"):
        assert key in sent["requestContext"] and key in built["requestContext"], key
    assert set(built["requestContext"]["http"]) <= set(sent["requestContext"]["http"])
    assert built["routeKey"] == sent["routeKey"] and built["rawPath"] == sent["rawPath"]
