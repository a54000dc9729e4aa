"""One list of runtime settings: the settings class, the template and the README agree.

``sam local`` ignores a variable the template does not declare, and in AWS it cannot be set
without editing the template; so every field of :class:`textclf.settings.Settings` must be
declared for each function that reads it (in ``Globals`` or on the function), and documented in
the README's settings table.
"""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path
from typing import Any

import pytest

from tests.cfn import load_template
from tests.helpers import ROOT
from textclf.settings import Settings

TEXTCLF = ROOT / "layers" / "common" / "python" / "textclf"
FANOUT = ROOT / "functions" / "batch" / "textclf_fanout"
FANOUT_STEPS = [FANOUT / f for f in ("plan.py", "ranges.py", "copy.py", "steps.py", "plan_main.py")]
FANOUT_STEPS += [FANOUT / "score_main.py", FANOUT / "publish_main.py", FANOUT / "startup.py"]
FANOUT_FUNCTIONS = ("FanoutPlanFunction", "FanoutRangeFunction", "FanoutPublishFunction")
# the fan-out steps run the batch pipeline, not the S3-triggered handler (main.py: routing)
BATCH_PIPELINE = sorted(
    p for p in (ROOT / "functions" / "batch" / "textclf_batch").glob("*.py") if p.name != "main.py"
)
# The code each function runs besides the shared core (model loading, backends, settings),
# which both run: a field read only there, or nowhere yet, is needed by both.
FUNCTION_SOURCES = {
    "ApiFunction": [ROOT / "functions" / "api", TEXTCLF / "schemas.py"],
    "BatchFunction": [ROOT / "functions" / "batch" / "textclf_batch", FANOUT / "route.py"],
    **{name: [*BATCH_PIPELINE, *FANOUT_STEPS] for name in FANOUT_FUNCTIONS},
    "PreTrafficHookFunction": [ROOT / "functions" / "pre_traffic", TEXTCLF / "smoke.py"],
}


def python_files(paths: list[Path]) -> list[Path]:
    return [f for p in paths for f in ([p] if p.is_file() else sorted(p.rglob("*.py")))]


def readers(field: str) -> set[str]:
    """The functions whose own code reads ``field`` (attribute access), all of them if none does."""
    pattern = re.compile(rf"\.{field}\b")
    found = {
        name
        for name, paths in FUNCTION_SOURCES.items()
        if any(pattern.search(f.read_text(encoding="utf-8")) for f in python_files(paths))
    }
    return found or set(FUNCTION_SOURCES)


@cache
def template() -> dict[str, Any]:
    return load_template()


def declared(function: str) -> dict[str, object]:
    variables = dict(template()["Globals"]["Function"]["Environment"]["Variables"])
    own = template()["Resources"][function]["Properties"].get("Environment", {}).get("Variables", {})
    variables.update(own)
    return variables


def readme_settings() -> set[str]:
    """Variable names in the first column of the README's settings table."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    section = text.split("### Settings (environment variables)", 1)[1].split("\n## ", 1)[0]
    names: set[str] = set()
    for line in section.splitlines():
        if line.startswith("| `"):
            names |= set(re.findall(r"`([A-Z][A-Z0-9_]+)`", line.split("|")[1]))
    return names


FIELDS = sorted(Settings.model_fields)


def test_every_function_in_the_map_exists() -> None:
    functions = {
        name for name, r in template()["Resources"].items() if r["Type"] == "AWS::Serverless::Function"
    }
    assert functions == set(FUNCTION_SOURCES)


@pytest.mark.parametrize("field", FIELDS)
def test_setting_is_declared_for_each_function_that_reads_it(field: str) -> None:
    name = field.upper()
    missing = sorted(f for f in readers(field) if name not in declared(f))
    assert not missing, f"{name} is read by {missing} but not declared in template.yaml for it"


@pytest.mark.parametrize("field", FIELDS)
def test_setting_is_documented_in_the_readme(field: str) -> None:
    assert field.upper() in readme_settings(), f"{field.upper()} missing from the README's settings table"


def test_template_declares_no_setting_the_code_does_not_know() -> None:
    """Each variable the template sets is a setting, or belongs to a library that reads it."""
    known = {f.upper() for f in FIELDS}
    for function in FUNCTION_SOURCES:
        unknown = {v for v in declared(function) if v not in known and not v.startswith("POWERTOOLS_")}
        assert not unknown, f"{function}: {sorted(unknown)} set by the template but read by nothing"


def test_the_readers_rule_finds_function_specific_settings() -> None:
    """The scan itself: a batch-only and an API-only field are attributed to one function."""
    assert readers("text_column") == {"BatchFunction", *FANOUT_FUNCTIONS}
    assert readers("fanout_threshold_bytes") == {"BatchFunction"}
    assert readers("max_batch_size") == {"ApiFunction", "PreTrafficHookFunction"}
    assert readers("smoke_tolerance") == {"PreTrafficHookFunction"}
    # read only by the shared core (model loading): every function needs it
    assert readers("sklearn_version_policy") == set(FUNCTION_SOURCES)
