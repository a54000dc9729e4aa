"""The options of ``python -m training``, declared once in :class:`training.config.TrainConfig`.

Every option from the command line and from the TOML file, precedence (command line over file
over default), bad values of every type (hypothesis), unknown keys, ``--help``, the README's
table, and that no environment variable (serving settings included) reaches the options.
No training, no subprocess.
"""

from __future__ import annotations

import contextlib
import io
import json
import math
import re
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.helpers import ROOT
from textclf.settings import Settings
from training import cli
from training.config import (
    EvaluateOptions,
    TrainConfig,
    _base_type,
    cli_only_keys,
    file_keys,
    option_fields,
    option_key,
)
from training.errors import TrainingError
from training.model_folder import write_model_folder

FIELDS = {option_key(name, info): (name, info) for name, info in option_fields(TrainConfig).items()}
ALL_KEYS = set(FIELDS)

# two valid values per option, both other than the default (paths relative to the test folder)
VALUES: dict[str, tuple[Any, Any]] = {
    "data": (Path("a.csv"), Path("b.jsonl")),
    "text_column": ("body", "message"),
    "label_column": ("queue", "class"),
    "output": (Path("out1"), Path("out2")),
    "test_size": (0.3, 0.25),
    "test_file": (Path("t1.csv"), Path("t2.csv")),
    "model": ("logreg", "svc-linear"),
    "cv_folds": (3, 4),
    "time_budget": (5.0, 0.0),
    "sublinear_tf": (False, True),
    "scoring": ("accuracy", "accuracy"),
    "min_accuracy": (0.5, 0.75),
    "min_macro_f1": (0.4, 0.6),
    "regression_tolerance": (0.02, 0.1),
    "allow_regression": (True, True),
    "n_jobs": (2, 1),
    "max_text_chars": (800, 1_000_000),
    "quiet": (True, True),
}


def attribute(config: TrainConfig, key: str) -> Any:
    return getattr(config, FIELDS[key][0])


def argv_for(key: str, value: Any, folder: Path) -> list[str]:
    flag = "--" + key.replace("_", "-")
    if isinstance(value, bool):
        return [flag if value else "--no-" + flag[2:]]
    return [flag, str(folder / value if isinstance(value, Path) else value)]


def toml_for(key: str, value: Any) -> str:
    """``key = value`` in TOML (json.dumps writes TOML's strings, booleans and numbers)."""
    literal = json.dumps(str(value) if isinstance(value, Path) else value)
    return f"{key.replace('_', '-')} = {literal}\n"


def expected(value: Any, folder: Path) -> Any:
    return folder / value if isinstance(value, Path) else value


def parse(argv: list[str]) -> TrainConfig:
    return cli.train_options(cli._parser().parse_args(["train", *argv]))


def with_file(folder: Path, toml: str, argv: list[str] = ()) -> TrainConfig:  # type: ignore[assignment]
    config = folder / "train.toml"
    config.write_text(toml, encoding="utf-8")
    return parse([*argv, "--config", str(config)])


def test_the_value_table_covers_every_option() -> None:
    assert set(VALUES) == ALL_KEYS
    assert cli_only_keys() == {"allow_regression"} and file_keys() == ALL_KEYS - {"allow_regression"}


@pytest.mark.parametrize("key", sorted(ALL_KEYS))
def test_every_option_from_the_command_line(key: str, tmp_path: Path) -> None:
    value = VALUES[key][0]
    data = [] if key == "data" else ["--data", str(tmp_path / "d.csv")]
    config = parse([*data, *argv_for(key, value, tmp_path)])
    assert attribute(config, key) == expected(value, tmp_path)


@pytest.mark.parametrize("key", sorted(file_keys()))
def test_every_option_from_the_file_and_the_command_line_wins(key: str, tmp_path: Path) -> None:
    in_file, on_line = VALUES[key]
    data = "" if key == "data" else 'data = "d.csv"\n'
    assert attribute(with_file(tmp_path, data + toml_for(key, in_file)), key) == expected(in_file, tmp_path)
    config = with_file(tmp_path, data + toml_for(key, in_file), argv_for(key, on_line, tmp_path))
    assert attribute(config, key) == expected(on_line, tmp_path)
    # with neither: the declared default
    if key != "data":
        name, info = FIELDS[key]
        assert getattr(with_file(tmp_path, data), name) == info.default


@pytest.mark.parametrize("key", sorted(cli_only_keys()))
def test_a_command_line_only_option_is_refused_in_the_file(key: str, tmp_path: Path) -> None:
    with pytest.raises(TrainingError, match=f"{key.replace('_', '-')}' is accepted on the command line only"):
        with_file(tmp_path, 'data = "d.csv"\n' + toml_for(key, VALUES[key][0]))


def one_line(exc: TrainingError, key: str) -> None:
    message = str(exc)
    assert "\n" not in message and key.replace("_", "-") in message, message


# -- bad values ---------------------------------------------------------------------------------

TOML_SCALARS = {
    "string": st.text(
        alphabet=st.characters(codec="utf-8", exclude_categories=["Cs", "Cc"]), max_size=20
    ).map(lambda t: json.dumps(t, ensure_ascii=False)),
    "integer": st.integers(min_value=-(2**63), max_value=2**63 - 1).map(str),
    "float": st.floats(allow_nan=True, allow_infinity=True).map(
        lambda f: (
            "nan" if math.isnan(f) else ("inf" if f == math.inf else "-inf" if f == -math.inf else repr(f))
        )
    ),
    "boolean": st.sampled_from(["true", "false"]),
    "array": st.sampled_from(["[]", "[1, 2]", '["a"]']),
    "table": st.sampled_from(["{}", "{ a = 1 }"]),
    "datetime": st.sampled_from(["1979-05-27T07:32:00Z", "1979-05-27", "07:32:00"]),
}


def wrong_kinds(key: str) -> list[str]:
    """The TOML value kinds the option does not take."""
    base, _ = _base_type(FIELDS[key][1].annotation)
    right = {
        str: {"string"},
        Path: {"string"},
        int: {"integer"},
        float: {"integer", "float"},
        bool: {"boolean"},
    }
    return sorted(set(TOML_SCALARS) - right.get(base, {"string"}))  # a Literal: strings (checked below)


@settings(max_examples=50, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_a_value_of_the_wrong_type_in_the_file_is_one_line_naming_the_option(
    tmp_path: Path, data: Any
) -> None:
    key = data.draw(st.sampled_from(sorted(file_keys())))
    literal = data.draw(st.sampled_from(wrong_kinds(key)).flatmap(lambda kind: TOML_SCALARS[kind]))
    prefix = "" if key == "data" else 'data = "d.csv"\n'
    with pytest.raises(TrainingError) as info:
        with_file(tmp_path, f"{prefix}{key.replace('_', '-')} = {literal}\n")
    one_line(info.value, key)
    assert "train.toml" in str(info.value)


LIMITS = {
    "test_size": (0.0, 1.0),
    "cv_folds": (2, None),
    "time_budget": (0.0, 86_400.0),
    "min_accuracy": (0.0, 1.0),
    "min_macro_f1": (0.0, 1.0),
    "regression_tolerance": (0.0, 1.0),
    "n_jobs": (1, None),
    "max_text_chars": (1, 1_000_000),
}


def out_of_range(key: str) -> st.SearchStrategy[Any]:
    low, high = LIMITS[key]
    integral = isinstance(low, int)
    number: Any = st.integers if integral else st.floats
    below = (
        number(max_value=low - 1) if integral else st.floats(max_value=low, exclude_max=key != "test_size")
    )
    if key == "test_size":
        below = st.floats(max_value=0.0)
    options = [below]
    if high is not None:
        options.append(
            number(min_value=high + 1)
            if integral
            else st.floats(min_value=high, exclude_min=key != "test_size")
        )
    if not integral:
        options.append(st.sampled_from([math.nan, math.inf, -math.inf]))
    return st.one_of(options)


def test_the_limits_table_is_the_declarations() -> None:
    """LIMITS (for the generated values) agrees with the fields' constraints."""
    constrained = {
        k for k, (_, f) in FIELDS.items() if f.metadata or _base_type(f.annotation)[0] in (int, float)
    }
    assert set(LIMITS) == constrained


@settings(max_examples=50, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_an_out_of_range_number_is_refused_from_either_source(tmp_path: Path, data: Any) -> None:
    key = data.draw(st.sampled_from(sorted(LIMITS)))
    value = data.draw(out_of_range(key))
    with pytest.raises(TrainingError) as info:
        parse(["--data", "d.csv", f"--{key.replace('_', '-')}={value}"])  # = : argparse reads -1e16 as a flag
    one_line(info.value, key)
    literal = (
        "nan"
        if value != value
        else ("inf" if value == math.inf else "-inf" if value == -math.inf else repr(value))
    )
    with pytest.raises(TrainingError) as info:
        with_file(tmp_path, f'data = "d.csv"\n{key.replace("_", "-")} = {literal}\n')
    one_line(info.value, key)


@settings(max_examples=50, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_any_command_line_value_is_accepted_or_refused_in_one_line(data: Any) -> None:
    """Arbitrary text for any option: a config, or exit 2 with one ``error:`` line; never a traceback."""
    key = data.draw(
        st.sampled_from(sorted(k for k in ALL_KEYS if k not in ("quiet", "allow_regression", "sublinear_tf")))
    )
    text = data.draw(st.text(alphabet=st.characters(codec="utf-8", exclude_categories=["Cs"]), max_size=15))
    stderr = io.StringIO()
    with contextlib.redirect_stderr(stderr):
        try:
            config = parse(["--data", "d.csv", "--" + key.replace("_", "-"), text])
        except SystemExit as exit_:  # argparse: not a number, not a choice, a value that looks like an option
            assert exit_.code == 2
            assert stderr.getvalue().startswith("error: ") and stderr.getvalue().count("\n") == 1
            return
        except TrainingError as exc:
            one_line(exc, key)
            return
    assert attribute(config, key) is not None


@settings(max_examples=50, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(key=st.from_regex(r"[A-Za-z][A-Za-z0-9_-]{0,24}", fullmatch=True))
def test_an_unknown_key_in_the_file_is_refused(tmp_path: Path, key: str) -> None:
    normalised = key.replace("-", "_")
    if normalised in ALL_KEYS:
        return
    with pytest.raises(TrainingError, match=f"unknown option '{re.escape(key)}'"):
        with_file(tmp_path, f'data = "d.csv"\n{key} = 1\n')


def test_a_usage_error_is_one_line_and_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    for argv in (["train", "--cv-folds", "x"], ["train", "--bogus"], ["train", "--model", "x"], []):
        with pytest.raises(SystemExit) as exit_:
            cli.main(argv)
        err = capsys.readouterr().err
        assert exit_.value.code == 2 and err.startswith("error: ") and err.count("\n") == 1, (argv, err)


def test_evaluate_names_a_missing_option(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["evaluate", "--data", "d.csv"]) == 2
    assert capsys.readouterr().err == "error: --model-dir is required\n"


# -- cross-field rules ----------------------------------------------------------------------------


@pytest.mark.parametrize("key", ["data", "test_file"])
def test_an_input_inside_the_model_folder_is_refused(key: str, tmp_path: Path) -> None:
    inside = tmp_path / "layer" / "model" / "rows.csv"
    argv = ["--output", str(tmp_path / "layer"), "--" + key.replace("_", "-"), str(inside)]
    with pytest.raises(TrainingError, match="inside the model folder") as info:
        parse(argv if key == "data" else ["--data", "d.csv", *argv])
    one_line(info.value, key)
    # beside it is fine
    parse(["--output", str(tmp_path / "layer"), "--data", str(tmp_path / "layer" / "rows.csv")])


@pytest.mark.parametrize(
    ("file", "output"),
    [("layer", "layer"), ("layer", "layer/deeper/still"), ("layer/model", "layer")],
)
def test_a_file_where_the_output_folder_goes_is_refused_before_training(
    file: str, output: str, tmp_path: Path
) -> None:
    """A newcomer's ``--output`` naming a file gave a traceback after the whole training run."""
    (tmp_path / file).parent.mkdir(parents=True, exist_ok=True)
    (tmp_path / file).write_text("not a folder", encoding="utf-8")
    with pytest.raises(TrainingError, match="is a file, not a folder") as info:
        parse(["--data", "d.csv", "--output", str(tmp_path / output)])
    one_line(info.value, "output")
    assert str(tmp_path / file) in str(info.value)


def test_a_model_folder_that_cannot_be_created_is_one_line_not_a_traceback(tmp_path: Path) -> None:
    """What the option check cannot see (a read-only or vanished parent) fails when the folder is made."""
    (tmp_path / "file").write_text("x", encoding="utf-8")
    output = tmp_path / "file" / "layer"  # mkdir raises NotADirectoryError, an OSError
    with pytest.raises(TrainingError, match="cannot write the model folder") as info:
        write_model_folder(output, pipeline=None, manifest_extra={})
    assert str(output / "model") in str(info.value) and "\n" not in str(info.value)
    assert not output.exists()


@pytest.mark.parametrize(
    ("layout", "expected"),
    [
        ("layer", "it is a layer folder; its model is in {dir}/model (--model-dir {dir}/model)"),
        ("empty", "no model at {dir}: manifest.json is missing (--model-dir is the folder that holds"),
        ("absent", "no model at {dir}: no such folder (--model-dir is the folder that holds"),
        ("file", "no model at {dir}: it is a file, not a folder (--model-dir is the folder that holds"),
        ("others", "no model at {dir}: manifest.json is missing (--model-dir is the folder that holds"),
    ],
)
def test_evaluate_without_a_manifest_says_which_folder_to_give(
    layout: str, expected: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """``--model-dir layers/model`` (train's --output) was told "... or set MODEL_DIR", which evaluate
    does not read."""
    folder = tmp_path / "layers" / "model"
    if layout == "file":
        folder.parent.mkdir(parents=True)
        folder.write_text("{}", encoding="utf-8")
    elif layout != "absent":
        folder.mkdir(parents=True)
    if layout == "others":  # files, but none a manifest (nor a layer folder's model/manifest.json)
        (folder / "model.joblib").write_bytes(b"x")
        (folder / "model").mkdir()
    if layout == "layer":
        (folder / "model").mkdir()
        (folder / "model" / "manifest.json").write_text("{}", encoding="utf-8")
    data = tmp_path / "d.csv"
    data.write_text("text,label\nhi there,a\n", encoding="utf-8")
    assert cli.main(["evaluate", "--model-dir", str(folder), "--data", str(data)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and err.count("\n") == 1 and "MODEL_DIR" not in err
    assert expected.format(dir=folder) in err


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (b"{not json", "cannot read {path}: Expecting property name"),
        (b"", "cannot read {path}: Expecting value"),
        (b"\xff\xfe{}", "cannot read {path}: 'utf-8' codec can't decode"),
        (b"[]", "{path}: expected a JSON object"),
        (b'"model"', "{path}: expected a JSON object"),
        (b"{}", "{path}: missing keys version, classes, files, backends"),
        (b'{"format_version": 2}', "{path} is manifest format 2; this textclf reads format 1"),
        (b'{"version": "v", "classes": "a", "files": {}, "backends": {}}', "{path}: invalid classes:"),
    ],
)
def test_evaluate_with_a_corrupt_manifest_is_one_line_naming_it(
    content: bytes, expected: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Each bad manifest: exit 2, one ``error:`` line saying what is wrong with which file, no traceback
    (an exception escaping ``main`` would fail this test), nothing on stdout."""
    folder = tmp_path / "model"
    folder.mkdir()
    (folder / "manifest.json").write_bytes(content)
    data = tmp_path / "d.csv"
    data.write_text("text,label\nhi there,a\n", encoding="utf-8")
    code = cli.main(["evaluate", "--model-dir", str(folder), "--data", str(data)])
    out, err = capsys.readouterr()
    assert code == 2 and out == ""
    assert err.startswith("error: ") and err.count("\n") == 1 and "MODEL_DIR" not in err
    assert expected.format(path=folder / "manifest.json") in err


# -- help, README, environment ------------------------------------------------------------------


@pytest.mark.parametrize(("command", "model"), [("train", TrainConfig), ("evaluate", EvaluateOptions)])
def test_help_lists_every_option_with_its_default(
    command: str, model: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit):
        cli.main([command, "--help"])
    lines = capsys.readouterr().out.split("options:", 1)[1].splitlines()
    entries: list[str] = []
    for line in lines:
        if line.startswith("  -"):
            entries.append(line.strip())
        elif entries:
            entries[-1] += " " + line.strip()
    for name, info in option_fields(model).items():
        flag = "--" + option_key(name, info).replace("_", "-")
        entry = next((e for e in entries if e.startswith(flag + " ") or e.startswith(flag + ",")), None)
        assert entry is not None, f"{flag} missing from --help"
        assert "(default: " in entry or "(required" in entry, entry


def readme_defaults() -> dict[str, str]:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("## Train on your own data", 1)[1].split("**What training does.**", 1)[0]
    found: dict[str, str] = {}
    for line in section.splitlines():
        cells = line.split("|")
        if line.startswith("| `--") and re.fullmatch(r" `[^`]+` ", cells[2]):
            for flag in re.findall(r"`--([a-z0-9-]+)", cells[1]):
                found[flag.replace("-", "_")] = cells[2].strip(" `")
    return found


def test_the_readme_defaults_are_the_declared_ones() -> None:
    documented = readme_defaults()
    assert len(documented) >= 10
    for key, shown in documented.items():
        default = FIELDS[key][1].default
        if isinstance(default, int | float) and not isinstance(default, bool):
            assert float(shown) == default, key
        else:
            assert shown == str(default), key


def test_no_environment_variable_reaches_the_options(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Neither the serving settings nor variables named like an option change ``train``'s options."""
    for name in Settings.model_fields:
        monkeypatch.setenv(name.upper(), "-1")
    for key, (first, _) in VALUES.items():
        monkeypatch.setenv(key.upper(), str(first))
        monkeypatch.setenv("TEXTCLF_" + key.upper(), str(first))
    config = parse(["--data", str(tmp_path / "d.csv")])
    assert config.model_dump() == TrainConfig(data=tmp_path / "d.csv").model_dump()


@pytest.mark.parametrize(
    "header",
    ['[project]\nname = "x"\n\n[tool.textclf.training]\n', "[training]\n", ""],
    ids=["pyproject", "table", "top"],
)
def test_the_options_table_may_live_in_pyproject_or_a_file_of_its_own(header: str, tmp_path: Path) -> None:
    toml = header + "".join(toml_for(key, VALUES[key][0]) for key in sorted(file_keys()))
    config = with_file(tmp_path, toml)
    for key in file_keys():
        assert attribute(config, key) == expected(VALUES[key][0], tmp_path), key
