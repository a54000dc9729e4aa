"""Hostile API requests shared by the unit tests (every one) and the sam local tests (a few)."""

from __future__ import annotations

import base64
import json

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
    ("repeated key", "apigw-v2-predict.json", '{"text": "a", "text": "b"}', False, "application/json", 422),
    (
        "repeated key escaped",
        "apigw-v2-predict.json",
        '{"text": "a", "\\u0074ext": "b"}',
        False,
        "application/json",
        422,
    ),
    (
        "nested repeated key",
        "apigw-v2-predict.json",
        '{"text": "a", "x": {"k": 1, "k": 2}}',
        False,
        "application/json",
        422,
    ),
    (
        "5000-digit number",
        "apigw-v2-predict.json",
        '{"text": ' + "9" * 5000 + "}",
        False,
        "application/json",
        422,
    ),
    ("lone surrogate", "apigw-v2-predict.json", '{"text": "\\ud800"}', False, "application/json", 422),
    ("NaN", "apigw-v2-predict.json", '{"text": NaN}', False, "application/json", 400),
    (
        "zero-width spaces",
        "apigw-v2-predict.json",
        '{"text": "\\u200b\\u200b"}',
        False,
        "application/json",
        422,
    ),
    ("NUL text", "apigw-v2-predict.json", '{"text": "\\u0000"}', False, "application/json", 422),
    ("v1 malformed", "apigw-v1-predict.json", "{", False, "application/json", 400),
    (
        "v1 repeated key",
        "apigw-v1-predict.json",
        '{"text": "a", "text": "b"}',
        False,
        "application/json",
        422,
    ),
    ("v1 lone surrogate", "apigw-v1-predict.json", '{"text": "x\\udc00"}', False, "application/json", 422),
    ("v1 zero-width spaces", "apigw-v1-predict.json", '{"text": "\\u200b"}', False, "application/json", 422),
    ("v1 empty text", "apigw-v1-predict.json", '{"text": ""}', False, "application/json", 422),
    ("v1 bad base64", "apigw-v1-predict.json", "%%%", True, "application/json", 400),
]


def pick(*names: str) -> list[tuple[str, str, str, bool, str, int]]:
    """The named cases, in the order given (each has a body)."""
    by_name = {case[0]: case for case in HOSTILE}
    picked = []
    for name in names:
        case = by_name[name]
        assert case[2] is not None, name
        picked.append((case[0], case[1], case[2], case[3], case[4], case[5]))
    return picked
