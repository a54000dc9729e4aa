"""Which way the imports go (docs/architecture.md): training -> core <- functions, nothing back up, and
nothing outside tests/ imports tests/. Read from the source text, so code that a benchmark runs as a
string in a child process counts too."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.helpers import ROOT

CORE = ROOT / "layers" / "common" / "python"
FUNCTION_PACKAGES = ("textclf_api", "textclf_batch", "textclf_fanout", "textclf_hook")


def sources(*folders: Path) -> list[Path]:
    return sorted(p for folder in folders for p in folder.rglob("*.py") if "__pycache__" not in p.parts)


def imported(path: Path, *modules: str) -> list[str]:
    """The lines of ``path`` that import any of ``modules`` (``import m``, ``from m[.x] import``)."""
    names = "|".join(re.escape(m) for m in modules)
    pattern = re.compile(rf"^\s*(?:from\s+(?:{names})(?:\.\w+)*\s+import|import\s+(?:{names})\b)", re.M)
    return [m.group(0).strip() for m in pattern.finditer(path.read_text(encoding="utf-8"))]


@pytest.mark.parametrize("folder", ["bench", "scripts", "functions", "training", "layers"])
def test_nothing_outside_tests_imports_tests(folder: str) -> None:
    found = {str(p.relative_to(ROOT)): imported(p, "tests") for p in sources(ROOT / folder)}
    assert not {k: v for k, v in found.items() if v}


def test_the_core_imports_neither_training_nor_a_function() -> None:
    files = sources(CORE)
    assert files
    found = {str(p.relative_to(ROOT)): imported(p, "training", *FUNCTION_PACKAGES) for p in files}
    assert not {k: v for k, v in found.items() if v}


def test_serving_never_imports_training() -> None:
    found = {str(p.relative_to(ROOT)): imported(p, "training") for p in sources(ROOT / "functions")}
    assert not {k: v for k, v in found.items() if v}


def test_the_pattern_sees_imports_in_code_strings(tmp_path: Path) -> None:
    sample = tmp_path / "sample.py"
    sample.write_text('CODE = """\nimport json\nfrom tests.helpers import X\n"""\nimport testsuite\n')
    assert imported(sample, "tests") == ["from tests.helpers import"]


def packages_by_code_uri() -> dict[str, list[str]]:
    """``functions/<folder>`` (one ``CodeUri`` each) -> the packages in it (folders with ``__init__.py``)."""
    folders = sorted(f for f in (ROOT / "functions").iterdir() if f.is_dir())
    return {f.name: sorted(p.parent.name for p in f.glob("*/__init__.py")) for f in folders}


def test_every_function_package_is_known() -> None:
    found = [name for names in packages_by_code_uri().values() for name in names]
    assert sorted(found) == sorted(FUNCTION_PACKAGES)


def test_a_function_imports_no_package_of_another_code_uri() -> None:
    """Each function ships only its own ``CodeUri`` folder: an import of another folder's package works in
    the development venv and fails on Lambda. (Packages of one folder, like ``textclf_batch`` and
    ``textclf_fanout``, ship together and may import each other.)"""
    by_folder = packages_by_code_uri()
    found: dict[str, list[str]] = {}
    for folder, own in by_folder.items():
        others = [name for name in FUNCTION_PACKAGES if name not in own]
        for path in sources(ROOT / "functions" / folder):
            if lines := imported(path, *others):
                found[str(path.relative_to(ROOT))] = lines
    assert not found
