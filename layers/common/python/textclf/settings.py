"""Runtime settings, read once from the environment and validated at start-up."""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Literal

from pydantic import Field, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from textclf.errors import TextClfError


class SettingsError(TextClfError):
    """An environment variable holds a value the service cannot run with."""


class Settings(BaseSettings):
    """Every knob of the runtime; the SAM template's ``Globals`` sets them in Lambda."""

    model_config = SettingsConfigDict(env_prefix="", case_sensitive=False, extra="ignore")

    model_dir: Path = Field(
        default=Path("/opt/model"), description="Folder holding manifest.json and the model files."
    )
    model_backend: Literal["auto", "lean", "joblib"] = Field(
        default="auto", description="Which model backend to use; auto prefers the lean one."
    )
    max_text_chars: int = Field(default=5000, ge=1, le=1_000_000)
    max_batch_size: int = Field(default=64, ge=1, le=10_000)
    log_user_text: bool = Field(
        default=False,
        description=(
            "Let user text into logs and messages: the API logs each request's texts, the batch "
            "function names a CSV header's columns. Off by default: texts may be personal data."
        ),
    )
    otel_enabled: bool = Field(
        default=False,
        description=(
            "FastAPI's native OpenTelemetry traces, metrics and logs; turn on with a configured "
            "provider (e.g. the ADOT Lambda layer). Off, requests skip its per-request checks."
        ),
    )
    api_base_path: str = Field(
        default="",
        pattern=r"^/?([A-Za-z0-9._~-]+(/[A-Za-z0-9._~-]+)*)?/?$",
        description=(
            "Base path of a custom-domain API mapping (e.g. /textclf for "
            "https://api.example.com/textclf/predict); empty when the API is not mapped under one."
        ),
    )
    sklearn_version_policy: Literal["warn", "refuse"] = Field(
        default="warn",
        description="What to do when the model was trained with another scikit-learn version.",
    )
    # S3 batch scoring
    input_prefix: str = "incoming/"
    output_prefix: str = "predictions/"
    text_column: str = "text"
    batch_chunk_rows: int = Field(default=2000, ge=1, le=1_000_000)
    batch_workers: int = Field(
        default=0, ge=0, le=64, description="Scoring processes; 0 = one per available vCPU."
    )
    max_line_bytes: int = Field(
        default=1_048_576,
        ge=1024,
        le=64 * 1_048_576,
        description="Longest input line, and longest CSV record over several lines, read (UTF-8 bytes).",
    )
    csv_delimiter: Literal["auto", ",", ";", "\t", "tab", "|"] = Field(
        default="auto", description="CSV delimiter; auto = a sep= first line, else detected from the header."
    )
    # the deployment's pre-traffic hook (functions/pre_traffic/textclf_hook)
    target_function_arn: str = Field(
        default="", description="The API function version the pre-traffic hook checks (set by the template)."
    )
    smoke_tolerance: float = Field(
        default=0.05,
        ge=0,
        le=1,
        description="How far below its recorded smoke-set accuracy a new version may score and still pass.",
    )

    @field_validator("api_base_path")
    @classmethod
    def _one_leading_slash(cls, value: str) -> str:
        """``textclf``, ``/textclf/`` and ``/textclf`` all mean ``/textclf``; ``/`` means none."""
        value = value.strip("/")
        return f"/{value}" if value else ""


@cache
def get_settings() -> Settings:
    """Settings from the environment, cached for the life of the process."""
    try:
        return Settings()
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc']).upper()}: {err['msg']}" for err in exc.errors()
        )
        raise SettingsError(f"invalid settings in the environment: {problems}") from None
