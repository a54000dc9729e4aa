"""Assertions shared by the sam local tests: what a good answer and a problem document look like."""

from __future__ import annotations

import base64
import json
from typing import Any

# (name, event file, body, base64?, content-type, status): bad requests, each must get a 4xx problem
BAD_REQUESTS: list[tuple[str, str, str, bool, str, int]] = [
    ("malformed json", "apigw-v2-predict.json", '{"text": "unterminated', False, "application/json", 400),
    ("empty text", "apigw-v2-predict.json", '{"text": "   "}', False, "application/json", 422),
    ("too long", "apigw-v2-predict.json", json.dumps({"text": "x" * 5001}), False, "application/json", 422),
    (
        "batch too big",
        "apigw-v2-predict-batch.json",
        json.dumps({"texts": ["a"] * 65}),
        False,
        "application/json",
        422,
    ),
    (
        "not utf-8",
        "apigw-v2-predict.json",
        base64.b64encode(b'{"text": "caf\xe9 \xff"}').decode(),
        True,
        "application/json",
        400,
    ),
    ("text/plain", "apigw-v2-predict.json", '{"text": "hi"}', False, "text/plain", 415),
]


def lower_headers(headers: dict[str, Any] | None) -> dict[str, str]:
    return {str(k).lower(): str(v) for k, v in (headers or {}).items()}


def check_prediction(body: dict[str, Any], classes: list[str], label: str | None = None) -> None:
    assert body["label"] in classes, body
    assert sorted(body["scores"]) == sorted(classes), body
    assert abs(sum(body["scores"].values()) - 1.0) < 1e-6, body
    assert body["label"] == max(body["scores"], key=body["scores"].__getitem__), body
    assert body["model_version"], body
    if label is not None:
        assert body["label"] == label, body


def check_problem(status: int, headers: dict[str, str], text: str, expected: int) -> None:
    """A 4xx RFC 9457 problem document, with no traceback."""
    assert status == expected, (status, text)
    assert headers.get("content-type") == "application/problem+json", headers
    problem = json.loads(text)
    assert problem["status"] == expected, problem
    assert problem["type"].startswith("urn:textclf:problem:"), problem
    assert problem["title"], problem
    assert "Traceback" not in text and 'File "' not in text, text


def proxy_result(result: dict[str, Any]) -> tuple[int, dict[str, str], str]:
    """(status, lower-cased headers, body text) of a Lambda proxy integration result."""
    assert "errorMessage" not in result, result
    body = result.get("body") or ""
    if result.get("isBase64Encoded"):
        body = base64.b64decode(body).decode("utf-8")
    return int(result["statusCode"]), lower_headers(result.get("headers")), body
