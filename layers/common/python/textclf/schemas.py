"""Request and response bodies of the prediction API.

Request models are built from the settings so that the limits a deployment runs
with are the ones its OpenAPI document shows.
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, ConfigDict, Field


def _not_blank(value: str) -> str:
    if not value.strip():
        raise ValueError("text must contain at least one non-whitespace character")
    return value


class PredictionOut(BaseModel):
    label: str = Field(description="The predicted class.")
    scores: dict[str, float] = Field(description="A score per class (probabilities when calibrated).")
    model_version: str


class BatchPredictionOut(BaseModel):
    predictions: list[PredictionOut]
    model_version: str


class HealthOut(BaseModel):
    status: str = "ok"
    model_version: str
    backend: str


class Problem(BaseModel):
    """RFC 9457 problem details, the body of every error response."""

    model_config = ConfigDict(extra="allow")

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
        Field(min_length=1, max_length=max_text_chars, description="Text to classify."),
        AfterValidator(_not_blank),
    ]

    class PredictIn(BaseModel):
        model_config = ConfigDict(extra="forbid", strict=True, title="PredictIn")
        text: text

    class BatchPredictIn(BaseModel):
        model_config = ConfigDict(extra="forbid", strict=True, title="BatchPredictIn")
        texts: list[text] = Field(
            min_length=1, max_length=max_batch_size, description="Texts to classify, in order."
        )

    return PredictIn, BatchPredictIn
