"""Which way the imports go (docs/architecture.md): training -> core <- functions, nothing back up, and
nothing outside tests/ imports tests/. Read from the source text, so code that a benchmark runs as a
string in a child process counts too."""

from __future__ import annotations

import ast
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


# -- no private names across packages --------------------------------------------------------------

CODE_ROOTS = (CORE, *sorted({p.parent.parent for p in (ROOT / "functions").glob("*/*/__init__.py")}))


def _package_of(path: Path) -> str:
    """The top-level package a source file belongs to (``textclf_fanout`` for
    ``functions/batch/textclf_fanout/steps.py``)."""
    for root in CODE_ROOTS:
        if path.is_relative_to(root):
            return path.relative_to(root).parts[0]
    return path.parent.name


def _is_module(dotted: str) -> bool:
    parts = dotted.split(".")
    return any(
        root.joinpath(*parts).with_suffix(".py").is_file() or root.joinpath(*parts, "__init__.py").is_file()
        for root in CODE_ROOTS
    )


def _private(name: str) -> bool:
    return name.startswith("_") and not (name.startswith("__") and name.endswith("__"))


def private_imports(path: Path, own: str | None = None) -> list[str]:
    """Where ``path`` reaches an underscore-prefixed name of another top-level package: ``from
    pkg.mod import _name``, ``import pkg._mod``, or ``mod._name`` on a module of another package
    bound by an import (``import pkg.mod as m``, ``from pkg import mod``). Relative imports stay
    inside their package and are not counted."""
    own = own or _package_of(path)
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found: list[str] = []
    foreign_modules: dict[str, str] = {}  # local name -> module of another package
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] == own:
                    continue
                if any(_private(part) for part in alias.name.split(".")):
                    found.append(f"line {node.lineno}: import {alias.name}")
                foreign_modules[alias.asname or alias.name.split(".")[0]] = alias.name
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            if node.module.split(".")[0] == own:
                continue
            for alias in node.names:
                if any(_private(part) for part in node.module.split(".")) or _private(alias.name):
                    found.append(f"line {node.lineno}: from {node.module} import {alias.name}")
                elif _is_module(f"{node.module}.{alias.name}"):
                    foreign_modules[alias.asname or alias.name] = f"{node.module}.{alias.name}"
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and _private(node.attr):
            base = node.value
            dotted: list[str] = []
            while isinstance(base, ast.Attribute):
                dotted.insert(0, base.attr)
                base = base.value
            if isinstance(base, ast.Name) and base.id in foreign_modules:
                found.append(f"line {node.lineno}: {'.'.join([base.id, *dotted, node.attr])}")
    return found


def test_no_function_module_uses_a_private_name_of_another_package() -> None:
    """Packages talk through public, documented names only (textclf_fanout -> textclf_batch,
    every function -> textclf): an underscore name is free to change inside its own package."""
    files = sources(ROOT / "functions")
    assert len(files) > 20
    found = {str(p.relative_to(ROOT)): private_imports(p) for p in files}
    for path, (reached, _why) in DELIBERATE.items():
        assert any(reached in line for line in found[path]), f"{path} no longer reaches {reached}: drop it"
        found[path] = [line for line in found[path] if reached not in line]
    assert not {k: v for k, v in found.items() if v}


# A third-party private name reached on purpose: where, what, and why no public name does it.
DELIBERATE = {
    "functions/api/textclf_api/deferred.py": (
        "pydantic._internal",
        "pydantic's default defer_build has no public setting (tests/unit/test_deferred.py pins it)",
    ),
}


def test_the_private_import_check_sees_each_form(tmp_path: Path) -> None:
    sample = tmp_path / "sample.py"
    sample.write_text(
        "from textclf_batch.process import ObjectRun, _Conflict\n"
        "from textclf_batch.streams import chained\n"
        "import textclf_batch.process as process\n"
        "from textclf_batch import streams\n"
        "from textclf_fanout.plan import _ranges\n"  # its own package: allowed
        "from . import _local\n"  # relative: its own package
        "process._wrong_encoding\n"
        "streams._PeekedStream(b'', None)\n"
        "process.ObjectRun\n"
        "process.__name__\n"
    )
    assert private_imports(sample, own="textclf_fanout") == [
        "line 1: from textclf_batch.process import _Conflict",
        "line 7: process._wrong_encoding",
        "line 8: streams._PeekedStream",
    ]
    assert private_imports(sample, own="textclf_batch") == ["line 5: from textclf_fanout.plan import _ranges"]
