"""A request body read as JSON (RFC 8259) and validated against a pydantic model, with every
refusal right about its cause.

pydantic-core parses and validates in one fast step (:func:`read_json_body`), but its parser
differs from RFC 8259 in ways a client would be misled by, so this module corrects them:

- **Repeated member names** (``{"text": "a", "text": "b"}``): pydantic-core keeps the last
  value and says nothing; RFC 8259 §4 leaves the behaviour open. Any object with a repeated
  name, at any depth and however the name is escaped, is refused (422 ``duplicate_key``). A
  name is followed by a colon, and always ends with an unescaped quote, optional whitespace and
  that colon, so the colons, then the matches of :data:`_NAME_END`, bound the number of names:
  with at most one (the routes' bodies have one member) nothing can repeat and nothing more
  runs; otherwise the body is parsed again by :func:`json.loads` with an ``object_pairs_hook``
  that sees every pair.
- **A UTF-8 byte order mark** in front of the body is ignored (RFC 8259 §8.1 allows a parser to).
- **Valid JSON that pydantic-core refuses** as invalid (a number beyond its range, a lone
  surrogate escape such as ``"\\ud800"``, ...): the body is parsed again by the standard
  library, strictly (no ``NaN`` / ``Infinity``, no limit on digits), and the real problem is
  reported: a string with a lone surrogate is not Unicode text (422 ``string_not_unicode``),
  a number where a string belongs is the model's ``string_type`` error. Only a body that is
  not JSON is ``json_invalid`` (a 400 ``malformed-json`` problem).

No error carries the input: messages name at most a model's own field (``text``, ``texts``).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from typing import Any

from fastapi import Request
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, ValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException

UTF8_BOM = b"\xef\xbb\xbf"
# the end of an object member's name: an unescaped quote, optional JSON whitespace, a colon.
# Every name ends so (an escaped quote inside a string can match too: an upper bound)
_NAME_END = re.compile(rb'"[ \t\n\r]*:')

Error = dict[str, Any]
_TOO_DEEP: Error = {"type": "json_too_deep", "loc": ("body",), "msg": "JSON nested too deeply"}


class _Number:
    """What a JSON number parses to when only its kind matters (no digit limit, no cost)."""

    def __repr__(self) -> str:
        return "<number>"


NUMBER = _Number()


class _NotJsonError(ValueError):
    """``NaN``, ``Infinity`` or ``-Infinity``: accepted by Python's and pydantic-core's
    parsers, not JSON."""


def _refuse_constant(name: str) -> Any:
    raise _NotJsonError(name)


class _Strict:
    """One strict standard-library parse that records repeated member names."""

    def __init__(self, fields: frozenset[str]) -> None:
        self.fields = fields
        self.repeated: list[str] = []  # a model field's name, or "" for another name

    def _pairs(self, pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        obj = dict(pairs)
        if len(obj) != len(pairs):
            seen: set[str] = set()
            for name, _ in pairs:
                if name in seen:
                    self.repeated.append(name if name in self.fields else "")
                seen.add(name)
        return obj

    def parse(self, text: str) -> Any:
        """``text`` parsed; raises :class:`json.JSONDecodeError` / :class:`_NotJsonError` for a
        body that is not JSON and :class:`RecursionError` for one nested too deeply."""
        return json.loads(
            text,
            object_pairs_hook=self._pairs,
            parse_int=lambda _: NUMBER,
            parse_float=lambda _: NUMBER,
            parse_constant=_refuse_constant,
        )


def _malformed() -> RequestValidationError:
    return RequestValidationError([{"type": "json_invalid", "loc": ("body",), "msg": "Invalid JSON"}])


def _too_deep() -> RequestValidationError:
    return RequestValidationError([_TOO_DEEP])


def _strict_parse(text: str, fields: frozenset[str]) -> tuple[Any, list[Error]]:
    """The body parsed strictly, and an error for each repeated member name; raises the
    :class:`RequestValidationError` of a body that is not JSON or too deep to parse."""
    parser = _Strict(fields)
    try:
        value = parser.parse(text)
    except (json.JSONDecodeError, _NotJsonError):
        raise _malformed() from None
    except RecursionError:
        raise _too_deep() from None
    errors: list[Error] = []
    for name in dict.fromkeys(parser.repeated):
        where = f'"{name}"' if name else "a member name"
        errors.append(
            {
                "type": "duplicate_key",
                "loc": ("body", name) if name else ("body",),
                "msg": f"a JSON object repeats {where}: each name may appear once",
            }
        )
    return value, errors


def _surrogates(value: Any, loc: tuple[str | int, ...], fields: frozenset[str]) -> list[Error]:
    """An error for each string in ``value`` holding a lone surrogate (not Unicode text);
    a member is located by its name when that is one of ``fields``, else as ``*``."""
    found: list[Error] = []
    stack: list[tuple[Any, tuple[str | int, ...]]] = [(value, loc)]
    while stack:
        item, where = stack.pop()
        if isinstance(item, str):
            if not item.isascii():
                try:
                    item.encode("utf-8")
                except UnicodeEncodeError:
                    found.append(
                        {
                            "type": "string_not_unicode",
                            "loc": where,
                            "msg": "a string holds a lone surrogate escape (\\ud800-\\udfff without "
                            "its pair): not Unicode text",
                        }
                    )
        elif isinstance(item, dict):
            for name, member in item.items():
                stack.append((name, where))  # a name that is not text: the object's error
                stack.append((member, (*where, name if name in fields else "*")))
        elif isinstance(item, list):
            stack.extend((member, (*where, i)) for i, member in enumerate(item))
    return found


def _located(errors: Sequence[Mapping[str, Any]]) -> list[Error]:
    out: list[Error] = []
    for err in errors:
        if err["type"] == "json_invalid" and "recursion limit" in err["msg"]:
            out.append(_TOO_DEEP)
        else:
            out.append({**err, "loc": ("body", *err["loc"])})
    return out


def _maybe_two_names(raw: bytes) -> bool:
    first = _NAME_END.search(raw)
    return first is not None and _NAME_END.search(raw, first.end()) is not None


def _fields(model: type[BaseModel]) -> frozenset[str]:
    return frozenset(model.model_fields)


async def read_json_body[M: BaseModel](request: Request, model: type[M]) -> M:
    """The request body parsed as JSON and validated against ``model``.

    Failures raise what FastAPI's own body parameter would: a 422
    :class:`RequestValidationError` (locations under ``body``; a missing body, one nested
    too deeply to parse, a repeated member name, a string that is not Unicode text
    included), with a body that is not JSON as ``json_invalid``, and a 400 for a body that
    is not UTF-8. A leading UTF-8 byte order mark is ignored.
    """
    return _read(await request.body(), model, after_bom=False)


def _text(raw: bytes) -> str:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        raise StarletteHTTPException(400, "the body is not UTF-8") from None


def _read[M: BaseModel](raw: bytes, model: type[M], *, after_bom: bool) -> M:
    if not raw:
        raise RequestValidationError([{"type": "missing", "loc": ("body",), "msg": "Field required"}])
    if raw.count(b":") > 1 and _maybe_two_names(raw):
        # two names or more, maybe the same one twice: the exact check
        text = _text(raw)
        _, repeated = _strict_parse(text if after_bom else text.removeprefix("\ufeff"), _fields(model))
        if repeated:
            raise RequestValidationError(repeated)
    try:
        # the bytes as they came: pydantic-core checks their UTF-8 itself, and what is neither
        # UTF-8 nor JSON is only told apart below, off the common path
        return model.model_validate_json(raw)
    except ValidationError as exc:
        errors = exc.errors(include_url=False, include_input=False, include_context=False)
    if not any(err["type"] == "json_invalid" for err in errors):
        if b"NaN" in raw or b"Infinity" in raw:
            _strict_parse(_text(raw), _fields(model))  # pydantic-core reads them; JSON has no such values
        raise RequestValidationError(_located(errors))
    text = _text(raw)
    if raw.startswith(UTF8_BOM) and not after_bom:
        return _read(raw[len(UTF8_BOM) :], model, after_bom=True)
    if any("recursion limit" in err["msg"] for err in errors):
        raise _too_deep()
    # pydantic-core refused the JSON: is it JSON? (RFC 8259, parsed by the standard library)
    value, repeated = _strict_parse(text, _fields(model))
    if repeated:
        raise RequestValidationError(repeated)
    not_text = _surrogates(value, ("body",), _fields(model))
    if not_text:
        raise RequestValidationError(not_text)
    try:
        # JSON pydantic-core cannot read but the model can judge (numbers stand in as NUMBER)
        return model.model_validate(value, strict=True)
    except ValidationError as exc:
        raise RequestValidationError(
            _located(exc.errors(include_url=False, include_input=False, include_context=False))
        ) from None
