"""Assertions shared by the sam local tests: what a good answer and a problem document look like."""

from __future__ import annotations

import base64
import json
from typing import Any

from tests.hostile import pick

# Bad requests, each must get a 4xx problem: a few of the unit tests' hostile cases (each sam local
# call is slow), covering every status and the base64 path.
BAD_REQUESTS = pick(
    "malformed json", "whitespace text", "too long", "batch too big", "not utf-8 (base64)", "text/plain"
)


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
