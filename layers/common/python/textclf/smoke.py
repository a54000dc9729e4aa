"""The smoke set: the file format training writes into the model folder and a deployment's
pre-traffic hook reads (``functions/pre_traffic/textclf_hook``).

``smoke.json`` holds a few held-out texts per class and the accuracy the model had on them
at training time (``training/smoke.py`` writes it).
"""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from textclf.errors import TextClfError

SMOKE_FILE = "smoke.json"
SMOKE_FORMAT = 1


class SmokeSetError(TextClfError):
    """The model folder's smoke set is missing, invalid, of another format or empty."""


class SmokeExample(BaseModel):
    model_config = ConfigDict(extra="forbid")
    text: str
    label: str


class SmokeSet(BaseModel):
    """``smoke.json`` in the model folder, as training writes it (``training/smoke.py``)."""

    model_config = ConfigDict(extra="forbid")
    format: int = Field(description="SMOKE_FORMAT of the writer.")
    accuracy: float | None = Field(
        ge=0, le=1, description="The model's accuracy on the examples at training."
    )
    per_class: int
    examples: list[SmokeExample]


def load_smoke_set(model_dir: Path) -> SmokeSet:
    """The smoke set of the model in ``model_dir``; :class:`SmokeSetError` if missing or invalid."""
    path = model_dir / SMOKE_FILE
    try:
        smoke = SmokeSet.model_validate_json(path.read_bytes())
    except FileNotFoundError:
        raise SmokeSetError(f"{path} not found: retrain the model (training writes its smoke set)") from None
    except ValidationError as exc:
        raise SmokeSetError(f"{path} is not a valid smoke set: {exc.error_count()} error(s)") from None
    if smoke.format != SMOKE_FORMAT:
        raise SmokeSetError(f"{path} has format {smoke.format}; this reader reads format {SMOKE_FORMAT}")
    if not smoke.examples or smoke.accuracy is None:
        raise SmokeSetError(f"{path} has no examples")
    return smoke
