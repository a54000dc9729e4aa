"""The options of ``python -m training``, declared once.

:class:`TrainConfig` is the one declaration of every ``train`` option: its name, type,
default, limits, help text and cross-field rules. The command line (:func:`add_options`
derives the ``argparse`` options from its fields), the TOML config file
(:func:`load_config`) and Python callers (tests, ``scripts/bench_accuracy.py``) all go
through it, and it is validated once, by :func:`train_config`.

Why ``argparse`` derived from the model and not pydantic-settings' own ``CliApp``: its
implicit flags refuse ``bool | None`` (the three-way ``--sublinear-tf`` / ``--no-sublinear-tf``
/ "let the search decide"), and the config file is named by an option of the same command
line, so a file source has to be read after the command line anyway.

The config file: options live in a ``[tool.textclf.training]`` table (so ``pyproject.toml``
can hold them), or a ``[training]`` table, or at the top level of a file of their own. Keys
are the long command-line options without the dashes (``min-accuracy`` or ``min_accuracy``);
options given on the command line win over the file, the file over the defaults. Options
marked command-line only (``--allow-regression``: a file cannot switch the gate off) are
refused in a file. Relative paths (``data``, ``test-file``, ``output``) are relative to the
folder of the file. TOML values are checked strictly (``quiet = "yes"`` is not a bool).
"""

from __future__ import annotations

import argparse
import os
import tomllib
import types
import typing
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator
from pydantic.fields import FieldInfo
from pydantic_core import ErrorDetails

from textclf.settings import SklearnVersionPolicy
from training.data import MAX_TEXT_CHARS, MAX_TEXT_CHARS_LIMIT
from training.errors import TrainingError
from training.gate import DEFAULT_TOLERANCE
from training.pipeline import Family, ModelOptions
from training.tuning import Progress, Scoring

DEFAULT_OUTPUT = Path("layers/model")
DEFAULT_TIME_BUDGET = 60.0
DEFAULT_CV_FOLDS = 5
# the longest hyper-parameter search one may ask for (a day); beyond is a typo, not a plan
MAX_TIME_BUDGET = 86_400.0

# Field markers (in ``json_schema_extra``): how an option shows on the command line.
#   metavar:  the value's name in --help;  shown_default: the default as --help words it
#   cli_only: accepted on the command line, refused in a config file
#   python_only: not an option at all (set by Python callers: progress callback, fixed params)
Share = Annotated[float, Field(gt=0, lt=1, allow_inf_nan=False)]
Fraction = Annotated[float, Field(ge=0, le=1, allow_inf_nan=False)]


class TrainConfig(BaseModel):
    """What ``train`` needs: every option of ``python -m training train`` and its rules."""

    model_config = ConfigDict(
        extra="forbid", validate_by_name=True, validate_by_alias=True, arbitrary_types_allowed=True
    )

    data: Path = Field(
        description=".csv / .tsv with a header, or .jsonl with one object per line",
        json_schema_extra={"metavar": "FILE"},
    )
    text_column: str = Field(
        default="text", description="column / field with the text", json_schema_extra={"metavar": "C"}
    )
    label_column: str = Field(
        default="label", description="column / field with the label", json_schema_extra={"metavar": "L"}
    )
    output: Path = Field(
        default=DEFAULT_OUTPUT,
        description="layer folder; the model goes to OUTPUT/model/",
        json_schema_extra={"metavar": "DIR"},
    )
    test_size: Share = Field(
        default=0.2,
        description="held-out share for evaluation (stratified)",
        json_schema_extra={"metavar": "F"},
    )
    test_file: Path | None = Field(
        default=None,
        description="evaluate on this labelled file instead (train on all of --data)",
        json_schema_extra={"metavar": "FILE", "shown_default": "a held-out split of --data"},
    )
    family: Family = Field(default="linear-svm", alias="model", description="model family")
    cv_folds: int = Field(
        default=DEFAULT_CV_FOLDS,
        ge=2,
        description="folds for tuning and calibration",
        json_schema_extra={"metavar": "K"},
    )
    time_budget: float = Field(
        default=DEFAULT_TIME_BUDGET,
        ge=0,
        le=MAX_TIME_BUDGET,
        allow_inf_nan=False,
        description="limit of the hyper-parameter search, at most a day; 0 = no search, family defaults",
        json_schema_extra={"metavar": "SECONDS"},
    )
    sublinear_tf: bool | None = Field(
        default=None,
        description="use 1+log(tf) term weights, or plain counts",
        json_schema_extra={"shown_default": "let the search decide"},
    )
    scoring: Scoring = Field(default="macro_f1", description="metric that picks the winner of the search")
    min_accuracy: Fraction | None = Field(
        default=None,
        description="quality gate: refuse a model below X",
        json_schema_extra={"metavar": "X", "shown_default": "no gate"},
    )
    min_macro_f1: Fraction | None = Field(
        default=None,
        description="quality gate: refuse a model below X",
        json_schema_extra={"metavar": "X", "shown_default": "no gate"},
    )
    regression_tolerance: Fraction = Field(
        default=DEFAULT_TOLERANCE,
        description="regression gate: refuse a model scoring more than X below the current model in "
        "OUTPUT on the held-out rows, by the --scoring metric",
        json_schema_extra={"metavar": "X"},
    )
    allow_regression: bool = Field(
        default=False,
        description="write the model even if the regression gate refuses it (worse than the current "
        "model, not comparable with it, or not better than the majority-class baseline); recorded in "
        "the card; command line only",
        json_schema_extra={"cli_only": True},
    )
    n_jobs: int | None = Field(
        default=None,
        ge=1,
        description="parallel CV workers",
        json_schema_extra={"metavar": "N", "shown_default": "all CPUs of this process"},
    )
    max_text_chars: int = Field(
        default=MAX_TEXT_CHARS,
        ge=1,
        le=MAX_TEXT_CHARS_LIMIT,
        description=f"texts longer than N characters are cut to N and reported; N <= {MAX_TEXT_CHARS_LIMIT}",
        json_schema_extra={"metavar": "N"},
    )
    quiet: bool = Field(default=False, description="no progress lines on stderr")
    progress: Progress | None = Field(default=None, exclude=True, json_schema_extra={"python_only": True})
    # fixed hyper-parameters (from Python, e.g. tests): no search, family and folds taken from them
    options: ModelOptions | None = Field(default=None, exclude=True, json_schema_extra={"python_only": True})

    @model_validator(mode="after")
    def _inputs_outside_the_model_folder(self) -> TrainConfig:
        """Training replaces OUTPUT/model/ as a whole: an input file inside it would be lost."""
        model_folder = Path(os.path.abspath(self.output / "model"))
        for name, path in (("data", self.data), ("test_file", self.test_file)):
            if path is not None and Path(os.path.abspath(path)).is_relative_to(model_folder):
                flag = "--" + name.replace("_", "-")
                raise ValueError(
                    f"{flag} {path} is inside the model folder {self.output / 'model'}, which training "
                    "replaces as a whole; move the file out of it or choose another --output"
                )
        return self

    @model_validator(mode="after")
    def _output_can_be_a_folder(self) -> TrainConfig:
        """Checked before any training: a file where OUTPUT or OUTPUT/model must be a folder."""
        for path in (self.output, self.output / "model"):
            if path.exists() and not path.is_dir():
                raise ValueError(f"--output {self.output}: {path} is a file, not a folder")
        for parent in self.output.parents:
            if parent.exists():
                if not parent.is_dir():
                    raise ValueError(f"--output {self.output}: {parent} is a file, not a folder")
                break
        return self


class EvaluateOptions(BaseModel):
    """The options of ``python -m training evaluate``."""

    model_config = ConfigDict(extra="forbid", validate_by_name=True, validate_by_alias=True)

    model_dir: Path = Field(description="folder holding manifest.json", json_schema_extra={"metavar": "DIR"})
    data: Path = Field(description="labelled CSV or JSONL file", json_schema_extra={"metavar": "FILE"})
    text_column: str | None = Field(
        default=None,
        description="column / field with the text",
        json_schema_extra={"metavar": "T", "shown_default": "the one the model was trained with"},
    )
    label_column: str | None = Field(
        default=None,
        description="column / field with the label",
        json_schema_extra={"metavar": "L", "shown_default": "the one the model was trained with"},
    )
    sklearn_version_policy: SklearnVersionPolicy = Field(
        default="warn",
        description="a model trained with another scikit-learn version: load it with a warning, or refuse it",
    )
    as_json: bool = Field(default=False, alias="json", description="print the metrics as JSON")


# -- the declaration, read ---------------------------------------------------------------------


def _extra(info: FieldInfo) -> dict[str, Any]:
    extra = info.json_schema_extra
    return extra if isinstance(extra, dict) else {}


def option_fields(model: type[BaseModel]) -> dict[str, FieldInfo]:
    """The options of ``model`` (field name -> field), without Python-only fields."""
    return {name: f for name, f in model.model_fields.items() if not _extra(f).get("python_only")}


def option_key(name: str, info: FieldInfo) -> str:
    """An option's ``snake_case`` key (its alias when it has one: ``family`` is ``model``)."""
    return info.alias or name


def flag(key: str) -> str:
    return "--" + key.replace("_", "-")


def cli_only_keys() -> set[str]:
    return {option_key(n, f) for n, f in option_fields(TrainConfig).items() if _extra(f).get("cli_only")}


def file_keys() -> set[str]:
    """The keys a config file may set: every ``train`` option but the command-line-only ones."""
    return {option_key(n, f) for n, f in option_fields(TrainConfig).items()} - cli_only_keys()


def _base_type(annotation: Any) -> tuple[Any, bool]:
    """``(type, optional)``: ``int | None`` -> ``(int, True)``; ``Annotated`` is looked through."""
    optional = False
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(annotation) if a is not type(None)]
        optional = len(args) < len(typing.get_args(annotation))
        annotation = args[0] if len(args) == 1 else annotation
    if typing.get_origin(annotation) is Annotated:
        annotation = typing.get_args(annotation)[0]
    return annotation, optional


def _help(info: FieldInfo, key: str, in_config_file: bool) -> str:
    """The field's description and its default, as ``--help`` shows them."""
    shown = _extra(info).get("shown_default")
    if info.is_required():
        where = f"here or as `{key}` in --config" if in_config_file else ""
        return f"{info.description} (required{' ' + where if where else ''})"
    if shown is None:
        shown = {None: "none", False: "off"}.get(info.default, info.default)
    return f"{info.description} (default: {shown})"


def add_options(parser: argparse.ArgumentParser, model: type[BaseModel]) -> None:
    """One ``argparse`` option per field of ``model``; an option not given is absent from the result.

    Values are converted to the field's base type here (so a typo like ``--cv-folds x`` is an
    argparse error); limits and cross-field rules are the model's, checked when it is built.
    """
    for name, info in option_fields(model).items():
        key = option_key(name, info)
        base, _optional = _base_type(info.annotation)
        in_file = model is TrainConfig and key in file_keys()
        kwargs: dict[str, Any] = {
            "dest": key,
            "default": argparse.SUPPRESS,
            "help": _help(info, key, in_file),
        }
        if base is bool:
            kwargs["action"] = argparse.BooleanOptionalAction if info.default is None else "store_true"
        else:
            if typing.get_origin(base) is Literal:
                kwargs["choices"] = typing.get_args(base)
            else:
                kwargs["type"] = base
                kwargs["metavar"] = _extra(info).get("metavar") or key.upper()
            # argparse's `required` would bypass the config file; the model says what is missing
        parser.add_argument(flag(key), **kwargs)


# -- the config file ---------------------------------------------------------------------------


def _table(document: dict[str, Any]) -> tuple[dict[str, Any], str]:
    tool = document.get("tool", {})
    if isinstance(tool, dict) and isinstance(tool.get("textclf"), dict) and "training" in tool["textclf"]:
        return tool["textclf"]["training"], "[tool.textclf.training]"
    if isinstance(document.get("training"), dict):
        return document["training"], "[training]"
    return {k: v for k, v in document.items() if k != "tool"}, "the top level"


def _path_keys() -> set[str]:
    return {
        option_key(n, f) for n, f in option_fields(TrainConfig).items() if _base_type(f.annotation)[0] is Path
    }


def load_config(path: Path) -> dict[str, Any]:
    """The training options in ``path``: keys as ``snake_case`` option keys, paths made absolute.

    Only the keys are checked here (unknown, command-line-only, set twice); values are
    checked with the command line's by :func:`train_config`.
    """
    return _read_config(path)[0]


def _read_config(path: Path) -> tuple[dict[str, Any], dict[str, str]]:
    """:func:`load_config`, and how an error names each option (``FILE: option 'time-budget'``)."""
    try:
        document = tomllib.loads(path.read_text(encoding="utf-8-sig"))  # Notepad writes a BOM
    except FileNotFoundError:
        raise TrainingError(f"{path}: no such config file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise TrainingError(f"{path}: cannot read the config file ({exc})") from None
    except tomllib.TOMLDecodeError as exc:
        raise TrainingError(f"{path}: not valid TOML ({exc})") from None
    table, where = _table(document)
    if not isinstance(table, dict):
        raise TrainingError(f"{path}: {where} is not a table")
    known = file_keys()
    options: dict[str, Any] = {}
    names: dict[str, str] = {}
    for raw_key, value in table.items():
        key = raw_key.replace("-", "_")
        if key in options:
            raise TrainingError(f"{path}: option {raw_key!r} is set twice in {where} (with - and with _)")
        if key in cli_only_keys():
            raise TrainingError(
                f"{path}: option {raw_key!r} is accepted on the command line only ({flag(key)}), "
                "so that a config file cannot switch the regression gate off"
            )
        if key not in known:
            listed = ", ".join(sorted(known))
            raise TrainingError(f"{path}: unknown option {raw_key!r} in {where} (known: {listed})")
        if key in _path_keys():
            if not isinstance(value, str):
                raise TrainingError(f"{path}: option {raw_key!r} must be a string (a path), got {value!r}")
            value = path.parent / value
        options[key] = value
        names[key] = f"{path}: option {raw_key!r}"
    return options, names


# -- building and validating -------------------------------------------------------------------


def _constraints(info: FieldInfo) -> dict[str, Any]:
    """The field's bounds (``ge``, ``gt``, ``le``, ``lt``), also from inside ``Annotated[...] | None``."""
    found: dict[str, Any] = {}
    metadata = list(info.metadata)
    for arg in typing.get_args(info.annotation):
        if typing.get_origin(arg) is Annotated:
            for extra in typing.get_args(arg)[1:]:
                metadata.extend(getattr(extra, "metadata", [extra]))
    for item in metadata:
        for bound in ("ge", "gt", "le", "lt"):
            if getattr(item, bound, None) is not None:
                found[bound] = getattr(item, bound)
    return found


def _allowed_range(info: FieldInfo) -> str:
    """``a number from 0 to 1``, ``at least 2``: the whole rule, in words."""
    c = {k: f"{int(v):,}" if float(v).is_integer() else str(v) for k, v in _constraints(info).items()}
    if "ge" in c and "le" in c:
        return f"a number from {c['ge']} to {c['le']}"
    if "gt" in c and "lt" in c:
        return f"a number between {c['gt']} and {c['lt']} (exclusive)"
    words = {"ge": "at least", "gt": "more than", "le": "at most", "lt": "less than"}
    return " and ".join(f"{words[k]} {v}" for k, v in c.items())


RANGE_ERRORS = {"greater_than", "greater_than_equal", "less_than", "less_than_equal", "finite_number"}


def problem(
    error: ErrorDetails,
    origins: dict[str, str],
    config_file: bool = True,
    model: type[BaseModel] = TrainConfig,
) -> str:
    """One pydantic error as one line naming the option as given (``--flag``, or the file and key)."""
    loc = error["loc"]
    key = str(loc[0]) if loc else ""
    if error["type"] == "missing":
        if not config_file:
            return f"{flag(key)} is required"
        return f"{flag(key)} is required (on the command line or as `{key}` in the --config file)"
    if error["type"] == "value_error":  # a cross-field rule: its message is whole
        return error["msg"].removeprefix("Value error, ")
    message = error["msg"].replace("Input should be", "must be")
    fields = {option_key(n, f): f for n, f in model.model_fields.items()}
    if error["type"] in RANGE_ERRORS and key in fields and _allowed_range(fields[key]):
        message = f"must be {_allowed_range(fields[key])}"
    got = repr(error.get("input"))
    got = got if len(got) <= 80 else got[:77] + "..."
    return f"{origins.get(key, flag(key))} {message}, got {got}"


def train_config(
    cli: dict[str, Any], config_file: Path | None = None, progress: Progress | None = None
) -> TrainConfig:
    """Defaults, then the config file, then the command line (``cli``: option key -> value given).

    Validated once, strictly (a TOML string is not a number); raises :class:`TrainingError`
    with one line naming the option, where it came from and the value.
    """
    values: dict[str, Any] = {}
    origins: dict[str, str] = {}  # key -> how an error names it: its flag, or the file and key
    if config_file is not None:
        values, origins = _read_config(config_file)
    values.update(cli)
    for key in cli:
        origins.pop(key, None)
    try:
        config = TrainConfig.model_validate(values, strict=True)
    except ValidationError as exc:
        raise TrainingError("; ".join(problem(e, origins) for e in exc.errors())) from None
    if progress is not None and not config.quiet:
        config = config.model_copy(update={"progress": progress})
    return config
