"""Request and response bodies of the prediction API.

Request models are built from the settings so that the limits a deployment runs
with are the ones its OpenAPI document shows.
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

# What counts as blank, the same for every reader of the schema: the union of Python's
# str.isspace(), JSON Schema's (ECMA-262) \s, and Unicode White_Space (the Rust regex
# pydantic-core uses), so a text this refuses fails NOT_BLANK_PATTERN in all three.
WHITESPACE = (
    "\t\n\x0b\x0c\r\x1c\x1d\x1e\x1f \x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005"
    "\u2006\u2007\u2008\u2009\u200a\u2028\u2029\u202f\u205f\u3000\ufeff"
)
# "contains a character that is not WHITESPACE", as an ECMA-262 / Python / Rust regex
# (JSON Schema patterns are searched, not anchored)
NOT_BLANK_PATTERN = (
    "[^\\t-\\r\\x1c-\\x1f \\x85\\xa0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000\\ufeff]"
)


def _not_blank(value: str) -> str:
    if not value.strip(WHITESPACE):
        raise ValueError("text must contain at least one non-whitespace character")
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
            description="Text to classify: at least one character that is not whitespace.",
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
