"""Request and response bodies of the prediction API.

Request models are built from the settings so that the limits a deployment runs
with are the ones its OpenAPI document shows.
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

# What counts as blank, the same for every reader of the schema: the union of Python's
# str.isspace(), JSON Schema's (ECMA-262) \s, and Unicode White_Space (the Rust regex
# pydantic-core uses).
WHITESPACE = (
    "\t\n\x0b\x0c\r\x1c\x1d\x1e\x1f \x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005"
    "\u2006\u2007\u2008\u2009\u200a\u2028\u2029\u202f\u205f\u3000\ufeff"
)
# The characters a text needs more than: WHITESPACE, and the assigned code points of Unicode 15.1
# (Python 3.13's) that are control characters (Cc), format characters (Cf: zero-width space,
# bidi marks, soft hyphen, BOM, tags, ...) or Default_Ignorable_Code_Point (variation selectors,
# Hangul fillers, ...), except the Prepended_Concatenation_Marks (Cf, but drawn: U+0600-0605,
# U+06DD, U+070F, U+0890-0891, U+08E2, U+110BD, U+110CD). A text made only of these shows nothing
# and is refused like a blank one. Inclusive code point ranges; tests derive them from the
# Unicode data again.
INVISIBLE_RANGES: tuple[tuple[int, int], ...] = (
    (0x0000, 0x0020), (0x007F, 0x00A0), (0x00AD, 0x00AD), (0x034F, 0x034F), (0x061C, 0x061C),
    (0x115F, 0x1160), (0x1680, 0x1680), (0x17B4, 0x17B5), (0x180B, 0x180F), (0x2000, 0x200F),
    (0x2028, 0x202F), (0x205F, 0x2064), (0x2066, 0x206F), (0x3000, 0x3000), (0x3164, 0x3164),
    (0xFE00, 0xFE0F), (0xFEFF, 0xFEFF), (0xFFA0, 0xFFA0), (0xFFF9, 0xFFFB), (0x13430, 0x1343F),
    (0x1BCA0, 0x1BCA3), (0x1D173, 0x1D17A), (0xE0001, 0xE0001), (0xE0020, 0xE007F), (0xE0100, 0xE01EF),
)  # fmt: skip


def _class_item(first: int, last: int) -> str:
    if last <= 0xFFFF:
        return f"\\u{first:04x}" if first == last else f"\\u{first:04x}-\\u{last:04x}"
    # Outside the BMP: the characters themselves, one by one. ECMA-262 has no escape for them that
    # Python and Rust share, and a range of them would be a syntax error to a JavaScript RegExp
    # built without the "u" flag (as Swagger UI builds them); JSON Schema reads patterns with it.
    return "".join(chr(cp) for cp in range(first, last + 1))


# "contains a visible character" (one not in INVISIBLE_RANGES) as an ECMA-262 / Python / Rust regex
# (JSON Schema patterns are searched, not anchored): the one statement of the rule, which the
# OpenAPI document shows and _not_blank enforces
NOT_BLANK_PATTERN = "[^" + "".join(_class_item(a, b) for a, b in INVISIBLE_RANGES) + "]"
# the same set for str.strip, which _not_blank uses: it returns a text with a visible first and last
# character unchanged, an order of magnitude faster than the regex (whose hundreds of single
# characters Python's re tests one by one); tests hold the two to the same code points
_INVISIBLE = "".join(chr(cp) for a, b in INVISIBLE_RANGES for cp in range(a, b + 1))
_INVISIBLE_SET = frozenset(_INVISIBLE)
BLANK_MESSAGE = (
    "text must contain at least one visible character (not only whitespace, control or format characters)"
)


def is_blank(value: str) -> bool:
    """Whether ``value`` has no visible character (only characters of INVISIBLE_RANGES, or none):
    the rule for an API request's text and an S3 batch row's alike."""
    # most texts start with a visible character: one set look-up (a strip over 500 characters
    # compares each end with all of them)
    if value[:1] not in _INVISIBLE_SET and value:
        return False
    return not value.strip(_INVISIBLE)


def _not_blank(value: str) -> str:
    if is_blank(value):
        raise ValueError(BLANK_MESSAGE)
    return value


# Models the first /predict does not use are built when first used (defer_build), not during the
# cold start: the batch route's, /health's and the problem document's.
_LAZY = ConfigDict(defer_build=True)


class PredictionOut(BaseModel):
    label: str = Field(description="The predicted class.")
    scores: dict[str, float] = Field(description="A score per class (probabilities when calibrated).")
    model_version: str


class BatchPredictionOut(BaseModel):
    model_config = _LAZY

    predictions: list[PredictionOut]
    model_version: str


class HealthOut(BaseModel):
    model_config = _LAZY

    status: str = "ok"
    model_version: str
    backend: str


class Problem(BaseModel):
    """RFC 9457 problem details, the body of every error response."""

    model_config = ConfigDict(extra="allow", defer_build=True)

    type: str = Field(description="URI naming the kind of problem.")
    title: str
    status: int
    detail: str
    instance: str | None = None
    errors: list[dict[str, Any]] | None = Field(
        default=None, description="Per-field validation errors: location, message, type."
    )


def request_models(max_text_chars: int, max_batch_size: int) -> tuple[type[BaseModel], type[BaseModel]]:
    """Build the request models for the configured limits."""
    text = Annotated[
        str,
        Field(
            min_length=1,
            max_length=max_text_chars,
            description="Text to classify: at least one visible character (not only whitespace, "
            "control or format characters such as U+200B ZERO WIDTH SPACE).",
            # documented, not enforced by pydantic-core (its regex error would be less clear);
            # _not_blank enforces the same rule
            json_schema_extra={"pattern": NOT_BLANK_PATTERN},
        ),
        AfterValidator(_not_blank),
    ]

    class PredictIn(BaseModel):
        model_config = ConfigDict(extra="forbid", strict=True, title="PredictIn")
        text: text

    class BatchPredictIn(BaseModel):
        model_config = ConfigDict(extra="forbid", strict=True, title="BatchPredictIn", defer_build=True)
        texts: list[text] = Field(
            min_length=1, max_length=max_batch_size, description="Texts to classify, in order."
        )

    return PredictIn, BatchPredictIn
