"""Request bodies as JSON (RFC 8259), through the Lambda handler with HTTP API v2 and REST v1 events:
a body is called malformed only when it is not JSON, a repeated member name is refused however it
is written, valid JSON that pydantic-core cannot read gets the real problem, a byte order mark is
ignored, a compressed body is 415, and no error or log line carries the client's text."""

from __future__ import annotations

import base64
import gzip
import json
import logging
import random
from types import ModuleType
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.helpers import LambdaContext, header, response_json, with_body

PREDICT = {"v2": "apigw-v2-predict.json", "v1": "apigw-v1-predict.json"}
BATCH = {"v2": "apigw-v2-predict-batch.json", "v1": "apigw-v1-predict-batch.json"}
SOURCES = sorted(PREDICT)
# every string the generators make starts with it: it must never come back in an answer or a log
MARK = "Zq"
PROPERTY = settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


def _call(api: ModuleType, event_name: str, body: str | bytes, **headers: str) -> dict[str, Any]:
    if isinstance(body, bytes):
        event = with_body(event_name, base64.b64encode(body).decode(), base64=True, **headers)
    else:
        event = with_body(event_name, body, **headers)
    response: dict[str, Any] = api.handler(event, LambdaContext())
    return response


def _problem(response: dict[str, Any], status: int) -> dict[str, Any]:
    assert response["statusCode"] == status, response
    assert header(response, "content-type") == "application/problem+json"
    problem: dict[str, Any] = response_json(response)
    assert problem["status"] == status
    return problem


def _types(problem: dict[str, Any]) -> set[str]:
    return {e["type"] for e in problem.get("errors", [])}


# --- writing JSON the ways clients may: any escaping, any whitespace ------------------------------


def _escape_char(c: str, rnd: random.Random) -> str:
    """``c`` inside a JSON string: as is where allowed, else (or at random) escaped."""
    cp = ord(c)
    if c in '"\\' or cp < 0x20 or rnd.random() < 0.3:
        if c in '"\\' and rnd.random() < 0.5:
            return "\\" + c
        if cp > 0xFFFF:
            hi, lo = 0xD800 + ((cp - 0x10000) >> 10), 0xDC00 + ((cp - 0x10000) & 0x3FF)
            return f"\\u{hi:04x}\\u{lo:04X}"
        return f"\\u{cp:04x}" if rnd.random() < 0.5 else f"\\u{cp:04X}"
    return c


def _string(s: str, rnd: random.Random) -> str:
    return '"' + "".join(_escape_char(c, rnd) for c in s) + '"'


def _ws(rnd: random.Random) -> str:
    return "".join(rnd.choice(" \t\n\r") for _ in range(rnd.choice((0, 0, 1, 2))))


class Raw(str):
    """A JSON number (or other token) written as is."""


def encode(value: Any, rnd: random.Random, repeat_at: int = -1, counter: list[int] | None = None) -> str:
    """``value`` as JSON text with random escapes and whitespace. Objects are lists of pairs; the
    ``repeat_at``-th non-empty object (pre-order) gets its first member name once more."""
    counter = counter if counter is not None else [0]
    if isinstance(value, Raw):
        return str(value)
    if value is None or isinstance(value, bool):
        return json.dumps(value)
    if isinstance(value, str):
        return _string(value, rnd)
    if isinstance(value, tuple):  # an object: ((name, member), ...)
        pairs = list(value)
        if pairs:
            if counter[0] == repeat_at:
                pairs.append((pairs[0][0], None))
            counter[0] += 1
        members = [
            _ws(rnd)
            + _string(name, rnd)
            + _ws(rnd)
            + ":"
            + _ws(rnd)
            + encode(member, rnd, repeat_at, counter)
            + _ws(rnd)
            for name, member in pairs
        ]
        return "{" + ",".join(members) + "}"
    assert isinstance(value, list)
    return "[" + ",".join(_ws(rnd) + encode(item, rnd, repeat_at, counter) + _ws(rnd) for item in value) + "]"


def _objects(value: Any) -> int:
    if isinstance(value, tuple):
        return (1 if value else 0) + sum(_objects(member) for _, member in value)
    if isinstance(value, list):
        return sum(_objects(item) for item in value)
    return 0


marked_text = st.text(min_size=0, max_size=12).map(lambda s: MARK + s)
# JSON numbers of any size: integers of thousands of digits, exponents far beyond a double's
numbers = st.from_regex(
    r"-?(0|[1-9][0-9]{0,5000})(\.[0-9]{1,40})?([eE][+-]?[0-9]{1,7})?", fullmatch=True
).map(Raw)


def _object(children: st.SearchStrategy[Any]) -> st.SearchStrategy[tuple[tuple[str, Any], ...]]:
    return st.dictionaries(marked_text, children, max_size=4).map(lambda d: tuple(d.items()))


json_values = st.recursive(
    st.none() | st.booleans() | numbers | marked_text,
    lambda children: st.lists(children, max_size=4) | _object(children),
    max_leaves=12,
)


# --- 1. repeated member names ----------------------------------------------------------------------


@pytest.mark.parametrize("source", SOURCES)
@pytest.mark.parametrize(
    "body",
    [
        '{"text": "a", "text": "b"}',
        '{"text": "a", "t\\u0065xt": "b"}',
        '{"\\u0074\\u0065\\u0078\\u0074": "a", "text" \n : "b"}',
        '{"text": "fine", "meta": {"k": 1, "\\u006b": 2}}',
        '{"text": "fine", "meta": [{"k": 1}, {"x": {"y": 1, "y": 1}}]}',
    ],
)
def test_repeated_member_names_are_422(api_module: ModuleType, source: str, body: str) -> None:
    problem = _problem(_call(api_module, PREDICT[source], body), 422)
    assert problem["type"] == "urn:textclf:problem:validation-error"
    assert _types(problem) == {"duplicate_key"}
    assert "repeats" in problem["detail"]


@pytest.mark.parametrize("source", SOURCES)
def test_repeated_texts_in_a_batch_is_422(api_module: ModuleType, source: str) -> None:
    problem = _problem(_call(api_module, BATCH[source], '{"texts": ["a"], "texts": ["b", "c"]}'), 422)
    assert problem["errors"][0]["loc"] == ["body", "texts"]
    assert problem["errors"][0]["type"] == "duplicate_key"


@pytest.mark.parametrize("source", SOURCES)
def test_names_are_not_echoed_and_escaped_quotes_are_no_names(api_module: ModuleType, source: str) -> None:
    body = json.dumps({"text": f'{MARK} said "x": 1, "y": 2', "meta": {f"{MARK}key": 1}})
    body = body[:-2] + f', "{MARK}key": 2}}}}'
    problem = _problem(_call(api_module, PREDICT[source], body), 422)
    assert _types(problem) == {"duplicate_key"} and MARK not in json.dumps(problem)
    # quotes and colons inside a text look like names to the cheap pre-check only
    response = _call(api_module, PREDICT[source], json.dumps({"text": 'a "b": c "d" : e'}))
    assert response["statusCode"] == 200, response


@PROPERTY
@given(data=st.data(), extra=st.lists(st.tuples(marked_text, json_values), max_size=3), seed=st.integers())
@pytest.mark.parametrize("source", SOURCES)
def test_a_repeated_name_anywhere_is_422_and_never_echoed(
    api_module: ModuleType, source: str, data: st.DataObject, extra: list[tuple[str, Any]], seed: int
) -> None:
    doc = (("text", MARK + " text"), *dict(extra).items())
    at = data.draw(st.integers(0, _objects(doc) - 1))
    body = encode(doc, random.Random(seed), repeat_at=at)
    problem = _problem(_call(api_module, PREDICT[source], body), 422)
    assert _types(problem) == {"duplicate_key"}, (body, problem)
    assert MARK not in json.dumps(problem)


@PROPERTY
@given(doc=_object(json_values), seed=st.integers())
@pytest.mark.parametrize("source", SOURCES)
def test_distinct_names_are_never_taken_for_repeated(
    api_module: ModuleType, source: str, doc: tuple[tuple[str, Any], ...], seed: int
) -> None:
    body = encode((("text", MARK), ("meta", doc)), random.Random(seed))
    problem = _problem(_call(api_module, PREDICT[source], body), 422)
    assert _types(problem) == {"extra_forbidden"}  # "meta" is not a field; nothing repeats
    assert MARK not in json.dumps(problem)


# --- 2. valid JSON is never "malformed" ------------------------------------------------------------

BOM = b"\xef\xbb\xbf"


@pytest.mark.parametrize("source", SOURCES)
def test_a_byte_order_mark_is_ignored(api_module: ModuleType, source: str) -> None:
    plain = _call(api_module, PREDICT[source], b'{"text": "my invoice is wrong"}')
    with_bom = _call(api_module, PREDICT[source], BOM + b'{"text": "my invoice is wrong"}')
    assert with_bom["statusCode"] == plain["statusCode"] == 200
    assert with_bom["body"] == plain["body"]
    # as the event's text body (API Gateway passes UTF-8 bodies as strings)
    assert (
        _call(api_module, PREDICT[source], '\ufeff{"text": "my invoice is wrong"}')["body"] == plain["body"]
    )
    batch = _call(api_module, BATCH[source], BOM + b'{"texts": ["a", "b"]}')
    assert batch["statusCode"] == 200, batch
    # one mark is the encoding's; a second is a character JSON does not allow there
    assert _problem(_call(api_module, PREDICT[source], BOM + BOM + b'{"text": "a"}'), 400)["type"].endswith(
        "malformed-json"
    )
    assert _problem(_call(api_module, PREDICT[source], BOM), 422)["errors"][0]["type"] == "missing"
    # after the mark, the body is judged as any other
    repeated = _problem(_call(api_module, PREDICT[source], BOM + b'{"text": "a", "text": "b"}'), 422)
    assert _types(repeated) == {"duplicate_key"}
    twice = _call(api_module, PREDICT[source], BOM + BOM + b'{"text": "a", "text": "b"}')
    assert _problem(twice, 400)["type"].endswith("malformed-json")
    assert _problem(_call(api_module, PREDICT[source], BOM + b'{"text": "caf\xe9"}'), 400)["type"].endswith(
        "undecodable-body"
    )
    deep = _problem(_call(api_module, PREDICT[source], BOM + b"[" * 5000 + b"]" * 5000), 422)
    assert _types(deep) == {"json_too_deep"}
    surrogate = _problem(_call(api_module, PREDICT[source], BOM + b'{"text": "\\ud800"}'), 422)
    assert _types(surrogate) == {"string_not_unicode"}


@pytest.mark.parametrize("source", SOURCES)
@pytest.mark.parametrize(
    "number", ["9" * 5000, "-" + "9" * 5000, "1" + "0" * 4300, "9" * 5000 + ".5", "1e999999", "-1.5E-999999"]
)
def test_a_huge_number_for_text_is_not_a_string(api_module: ModuleType, source: str, number: str) -> None:
    problem = _problem(_call(api_module, PREDICT[source], f'{{"text": {number}}}'), 422)
    assert [(e["loc"], e["type"]) for e in problem["errors"]] == [(["body", "text"], "string_type")]
    batch = _problem(_call(api_module, BATCH[source], f'{{"texts": ["ok", {number}]}}'), 422)
    assert [(e["loc"], e["type"]) for e in batch["errors"]] == [(["body", "texts", "1"], "string_type")]


@pytest.mark.parametrize("source", SOURCES)
@pytest.mark.parametrize(
    "text", ["\\ud800", "\\udfff", "a\\udc00b", "\\ud83d", "\\ud83d\\ud83d", "\\ude00\\ud83d", "ok\\uDBFF"]
)
def test_a_lone_surrogate_escape_is_not_text(api_module: ModuleType, source: str, text: str) -> None:
    problem = _problem(_call(api_module, PREDICT[source], f'{{"text": "{text}"}}'), 422)
    assert [(e["loc"], e["type"]) for e in problem["errors"]] == [(["body", "text"], "string_not_unicode")]
    assert "lone surrogate" in problem["detail"]
    batch = _problem(_call(api_module, BATCH[source], f'{{"texts": ["ok", "{text}"]}}'), 422)
    assert [(e["loc"], e["type"]) for e in batch["errors"]] == [
        (["body", "texts", "1"], "string_not_unicode")
    ]
    # a pair is one character, and fine
    assert _call(api_module, PREDICT[source], '{"text": "\\ud83d\\ude00 broken"}')["statusCode"] == 200


high = st.integers(0xD800, 0xDBFF).map(lambda c: f"\\u{c:04x}")
low = st.integers(0xDC00, 0xDFFF).map(lambda c: f"\\u{c:04X}")
text_piece = st.sampled_from(["a", "word ", "\\u00e9", "\\n", "\\ud83d\\ude00"])


@PROPERTY
@given(
    pieces=st.lists(
        st.one_of(text_piece, high, low, st.tuples(high, low).map("".join)), min_size=1, max_size=8
    )
)
@pytest.mark.parametrize("source", SOURCES)
def test_a_string_is_refused_exactly_when_an_escape_leaves_a_lone_surrogate(
    api_module: ModuleType, source: str, pieces: list[str]
) -> None:
    escaped = "a " + "".join(pieces)
    lone = False
    try:
        json.loads(f'"{escaped}"').encode("utf-8")
    except UnicodeEncodeError:
        lone = True
    response = _call(api_module, BATCH[source], f'{{"texts": ["{escaped}"]}}')
    if lone:
        problem = _problem(response, 422)
        assert [(e["loc"], e["type"]) for e in problem["errors"]] == [
            (["body", "texts", "0"], "string_not_unicode")
        ]
    else:
        assert response["statusCode"] == 200, (escaped, response)


@pytest.mark.parametrize("source", SOURCES)
@pytest.mark.parametrize("body", ['{"text": NaN}', '{"text": -Infinity}', '{"texts": [Infinity]}', "NaN"])
def test_nan_and_infinity_are_not_json(api_module: ModuleType, source: str, body: str) -> None:
    assert _problem(_call(api_module, PREDICT[source], body), 400)["type"].endswith("malformed-json")


def _strict_json(text: str) -> bool:
    def refuse(name: str) -> None:
        raise ValueError(name)

    try:
        json.loads(text, parse_constant=refuse, parse_int=lambda s: 0)
    except ValueError:
        return False
    return True


@PROPERTY
@given(value=json_values, seed=st.integers(), batch=st.booleans())
@pytest.mark.parametrize("source", SOURCES)
def test_valid_json_is_never_called_malformed(
    api_module: ModuleType, source: str, value: Any, seed: int, batch: bool
) -> None:
    doc = (("texts", [value]),) if batch else (("text", value),)
    body = encode(doc, random.Random(seed))
    response = _call(api_module, (BATCH if batch else PREDICT)[source], body)
    assert response["statusCode"] in (200, 422), (body, response)
    if isinstance(value, str) and not isinstance(value, Raw):
        assert response["statusCode"] == 200, (body, response)
    else:
        problem = _problem(response, 422)
        assert _types(problem) <= {"string_type", "model_type", "list_type"}
        assert MARK not in json.dumps(problem)


@PROPERTY
@given(
    value=json_values,
    seed=st.integers(),
    cut=st.integers(0, 10_000),
    insert=st.sampled_from(
        ["", "x", ",", "}", "]", '"', ":", "NaN", "Infinity", "-", "0", "\\", "\x01", " "]
    ),
)
@pytest.mark.parametrize("source", SOURCES)
def test_a_body_is_malformed_exactly_when_it_is_not_json(
    api_module: ModuleType, source: str, value: Any, seed: int, cut: int, insert: str
) -> None:
    body = encode((("text", value),), random.Random(seed))
    at = cut % (len(body) + 1)
    body = body[:at] + insert + body[at:]
    response = _call(api_module, PREDICT[source], body)
    if _strict_json(body):
        assert response["statusCode"] in (200, 422), (body, response)
    else:
        assert _problem(response, 400)["type"].endswith("malformed-json"), body


@PROPERTY
@given(value=json_values, seed=st.integers())
@pytest.mark.parametrize("source", SOURCES)
def test_a_byte_order_mark_changes_nothing(
    api_module: ModuleType, source: str, value: Any, seed: int
) -> None:
    body = encode((("text", value),), random.Random(seed)).encode()
    plain, marked = (_call(api_module, PREDICT[source], b) for b in (body, BOM + body))
    assert (marked["statusCode"], marked["body"]) == (plain["statusCode"], plain["body"])


def test_no_log_line_carries_the_body(api_module: ModuleType, caplog: pytest.LogCaptureFixture) -> None:
    bodies = [
        f'{{"text": "{MARK}", "text": "{MARK}"}}',
        f'{{"text": "{MARK}\\ud800"}}',
        f'{{"text": {"9" * 5000}, "{MARK}": 1}}',
        f'{{"text": "{MARK}", "x": NaN}}',
    ]
    with caplog.at_level(logging.DEBUG):
        for source in SOURCES:
            for body in bodies:
                assert _call(api_module, PREDICT[source], body)["statusCode"] in (400, 422)
    assert MARK not in caplog.text


# --- 4. content codings ----------------------------------------------------------------------------


@pytest.mark.parametrize("source", SOURCES)
@pytest.mark.parametrize(
    "coding", ["gzip", "GZip", "x-gzip", "br", "deflate", "zstd", "compress", "gzip, identity"]
)
def test_a_compressed_body_is_415_naming_the_coding(api_module: ModuleType, source: str, coding: str) -> None:
    compressed = gzip.compress(b'{"text": "my invoice is wrong"}')
    for event in (PREDICT[source], BATCH[source]):
        response = _call(
            api_module, event, compressed, content_type="application/json", content_encoding=coding
        )
        problem = _problem(response, 415)
        assert problem["type"] == "urn:textclf:problem:unsupported-content-encoding"
        assert coding.split(",")[0].lower() in problem["detail"]
        assert header(response, "accept-encoding") == "identity"


@pytest.mark.parametrize("source", SOURCES)
@pytest.mark.parametrize("coding", ["identity", "", " Identity "])
def test_identity_is_no_coding(api_module: ModuleType, source: str, coding: str) -> None:
    response = _call(api_module, PREDICT[source], '{"text": "hello"}', content_encoding=coding)
    assert response["statusCode"] == 200, response


@pytest.mark.parametrize("source", SOURCES)
def test_an_unknown_coding_is_not_echoed(api_module: ModuleType, source: str) -> None:
    response = _call(
        api_module, PREDICT[source], '{"text": "hello"}', content_encoding=f"{MARK} secret stuff"
    )
    problem = _problem(response, 415)
    assert MARK not in json.dumps(problem) and "unrecognised" in problem["detail"]
