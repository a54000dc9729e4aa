"""Rules between runtime settings: validators of :class:`textclf.settings.Settings`, checked once.

The batch function reads under ``INPUT_PREFIX`` and writes under ``OUTPUT_PREFIX``; if one
contains the other (an empty prefix contains everything), its outputs would trigger it again.
"""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

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
