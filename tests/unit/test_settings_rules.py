"""Rules between runtime settings: validators of :class:`textclf.settings.Settings`, checked once.

The batch function reads under ``INPUT_PREFIX`` and writes under ``OUTPUT_PREFIX``; if one
contains the other (an empty prefix contains everything), its outputs would trigger it again.
"""

from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from tests.helpers import ROOT
from textclf.settings import Settings, SettingsError, get_settings

prefixes = st.text(alphabet="ab/", max_size=6)


@given(inp=prefixes, out=prefixes)
def test_prefixes_are_accepted_exactly_when_neither_contains_the_other(inp: str, out: str) -> None:
    looping = not inp or not out or inp.startswith(out) or out.startswith(inp)
    try:
        settings = Settings(input_prefix=inp, output_prefix=out)
    except ValidationError as exc:
        assert looping
        assert "neither may contain the other" in str(exc)
    else:
        assert not looping and (settings.input_prefix, settings.output_prefix) == (inp, out)


@pytest.mark.parametrize(
    ("inp", "out"), [("incoming/", "incoming/out/"), ("data/", "data/"), ("", "predictions/"), ("in/", "")]
)
def test_the_environment_gets_one_line_naming_both_variables(
    clean_env: pytest.MonkeyPatch, inp: str, out: str
) -> None:
    clean_env.setenv("INPUT_PREFIX", inp)
    clean_env.setenv("OUTPUT_PREFIX", out)
    with pytest.raises(SettingsError) as info:
        get_settings()
    message = str(info.value)
    assert message == (
        f"invalid settings in the environment: INPUT_PREFIX ({inp!r}) and OUTPUT_PREFIX ({out!r}) must be "
        "non-empty and neither may contain the other, or outputs could trigger the function again"
    )


def test_settings_are_read_once_and_frozen(clean_env: pytest.MonkeyPatch) -> None:
    settings = get_settings()
    assert get_settings() is settings
    with pytest.raises(ValidationError):
        settings.max_text_chars = 10  # type: ignore[misc]
    assert hash(settings) == hash(Settings())  # the predictor cache keys on them


# -- who reads the environment ------------------------------------------------------------------

CODE = [ROOT / "layers" / "common" / "python" / "textclf", ROOT / "training", ROOT / "functions"]
SETTING_NAMES = "|".join(name.upper() for name in Settings.model_fields)


def is_handler_module(text: str) -> bool:
    """A Lambda entry point: it defines (or builds) the module-level ``handler``."""
    return re.search(r"^\s*(def handler\(|handler = )", text, re.MULTILINE) is not None


def test_only_handlers_read_the_settings_from_the_environment() -> None:
    """Library code takes its policy as arguments: ``get_settings()`` is called by handlers
    only, and no module reads a serving setting's variable itself."""
    readers, direct = [], []
    for folder in CODE:
        for path in sorted(folder.rglob("*.py")):
            if path.name == "settings.py" and path.parent.name == "textclf":
                continue
            text = path.read_text(encoding="utf-8")
            if "get_settings()" in text and not is_handler_module(text):
                readers.append(str(path.relative_to(ROOT)))
            if re.search(rf"(environ|getenv)\b[^\n]*\b({SETTING_NAMES})\b", text):
                direct.append(str(path.relative_to(ROOT)))
    assert not readers, f"library modules read the settings from the environment: {readers}"
    assert not direct, f"modules read a serving setting's variable directly: {direct}"


def test_the_scan_sees_the_handlers() -> None:
    handlers = [
        p
        for folder in CODE
        for p in folder.rglob("*.py")
        if "get_settings()" in p.read_text(encoding="utf-8") and p.name != "settings.py"
    ]
    assert len(handlers) >= 3 and all(is_handler_module(p.read_text(encoding="utf-8")) for p in handlers)
