"""Runtime settings, read once from the environment and validated at start-up.

Only a handler calls :func:`get_settings` (once, at import) and passes the values down;
library code takes what it needs as arguments and never reads the environment, so
training (which imports this package to export and evaluate models) is not affected by a
serving setting in the shell. Rules between fields are validators of :class:`Settings`,
checked once, when the settings are read.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Literal, Self

from pydantic import Field, ValidationError, field_validator, model_validator
from pydantic_core import ErrorDetails
from pydantic_settings import BaseSettings, SettingsConfigDict

from textclf.errors import TextClfError

SklearnVersionPolicy = Literal["warn", "refuse"]


class SettingsError(TextClfError):
    """An environment variable holds a value the service cannot run with."""


class Settings(BaseSettings):
    """Every knob of the runtime; the SAM template's ``Globals`` sets them in Lambda."""

    # frozen: read once, never changed, and hashable (``textclf.model.get_predictor`` caches on it)
    model_config = SettingsConfigDict(env_prefix="", case_sensitive=False, extra="ignore", frozen=True)

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
    metrics_flush_requests: int = Field(
        default=10,
        ge=1,
        le=100,
        description=(
            "The API writes its metrics (EMF) once every this many requests, one record per shape; "
            "sooner for a failure, a new minute or shutdown. 1 writes every request's line at once."
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
    sklearn_version_policy: SklearnVersionPolicy = Field(
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
    # files bigger than one function (functions/batch/textclf_fanout): Step Functions fan-out
    fanout_threshold_bytes: int = Field(
        default=1_000_000_000,
        ge=0,
        description="Objects larger than this (bytes, uncompressed keys) are fanned out; 0 = never.",
    )
    fanout_state_machine_arn: str = Field(
        default="", description="The fan-out state machine (set by the template); empty = never fan out."
    )
    fanout_range_bytes: int = Field(
        default=128 * 1_048_576, ge=1, description="Target size of one range of a fanned-out object (bytes)."
    )
    fanout_csv_max_bytes: int = Field(
        default=60_000_000_000,
        ge=1,
        description="Largest CSV object the fan-out's plan step scans for record boundaries (bytes); "
        "a bigger one is refused up front (too_large). Default: 870 s at the measured 70 MB/s of scan.",
    )
    fanout_max_concurrency: int = Field(
        default=100, ge=1, le=10_000, description="Ranges scored at the same time (the Distributed Map's)."
    )
    work_prefix: str = Field(
        default="work/", description="Where a fanned-out run keeps its plan and range outputs until merged."
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

    @model_validator(mode="after")
    def _outputs_cannot_trigger_the_batch_function(self) -> Self:
        """The batch function reads under INPUT_PREFIX and writes under OUTPUT_PREFIX: if either
        contains the other (or one is empty, which contains everything), its outputs would
        trigger it again."""
        inp, out = self.input_prefix, self.output_prefix
        if not inp or not out or inp.startswith(out) or out.startswith(inp):
            raise ValueError(
                f"INPUT_PREFIX ({inp!r}) and OUTPUT_PREFIX ({out!r}) must be non-empty and neither may "
                "contain the other, or outputs could trigger the function again"
            )
        return self


@cache
def get_settings() -> Settings:
    """Settings from the environment, cached for the life of the process."""
    try:
        return Settings()
    except ValidationError as exc:
        problems = "; ".join(_problem(err) for err in exc.errors())
        raise SettingsError(f"invalid settings in the environment: {problems}") from None


def _problem(error: ErrorDetails) -> str:
    """``NAME: message`` for a field; a rule between fields already names its variables."""
    if not error["loc"]:
        return error["msg"].removeprefix("Value error, ")
    return f"{'.'.join(str(p) for p in error['loc']).upper()}: {error['msg']}"
