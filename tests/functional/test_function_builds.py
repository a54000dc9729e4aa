"""Each function's ``sam build`` target (its CodeUri's Makefile): the packages the handlers import,
every module with bytecode Lambda uses as is (read-only /var/task), and nothing else."""

from __future__ import annotations

import marshal
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.cfn import load_template
from tests.helpers import ROOT, pyc_flags

FUNCTIONS = {
    name: res["Properties"]
    for name, res in load_template()["Resources"].items()
    if res["Type"] == "AWS::Serverless::Function"
}


def _build(name: str, tmp_path: Path) -> Path:
    """Run ``make build-<name>`` as sam build does: in a copy of the CodeUri, with ARTIFACTS_DIR."""
    source = tmp_path / "source"
    shutil.copytree(ROOT / FUNCTIONS[name]["CodeUri"], source, ignore=shutil.ignore_patterns("__pycache__"))
    artifacts = tmp_path / "artifacts"
    artifacts.mkdir()
    subprocess.run(
        ["make", f"build-{name}", f"ARTIFACTS_DIR={artifacts}", f"PYTHON={sys.executable}"],
        cwd=source,
        check=True,
        capture_output=True,
        timeout=120,
    )
    return artifacts


@pytest.mark.parametrize("name", sorted(FUNCTIONS))
def test_a_function_build_ships_its_packages_byte_compiled(name: str, tmp_path: Path) -> None:
    artifacts = _build(name, tmp_path)
    code_uri = ROOT / FUNCTIONS[name]["CodeUri"]
    packages = sorted(p.parent.name for p in code_uri.glob("*/__init__.py"))
    assert sorted(p.name for p in artifacts.iterdir()) == packages  # no Makefile, no stray files
    handler_module = FUNCTIONS[name]["Handler"].rsplit(".", 1)[0]
    assert (artifacts / (handler_module.replace(".", "/") + ".py")).is_file()
    sources = list(artifacts.rglob("*.py"))
    assert sorted(p.relative_to(artifacts) for p in sources) == sorted(
        p.relative_to(code_uri) for p in code_uri.rglob("*.py") if "__pycache__" not in p.parts
    )
    tag = sys.implementation.cache_tag
    for source in sources:
        pyc = source.parent / "__pycache__" / f"{source.stem}.{tag}.pyc"
        assert pyc.is_file(), f"{source.relative_to(artifacts)} has no bytecode"
        assert pyc_flags(pyc) == 0b01, f"{pyc.name} is not unchecked-hash"
        code = marshal.loads(pyc.read_bytes()[16:])
        # tracebacks on Lambda name the file where it is, under /var/task
        assert code.co_filename == f"/var/task/{source.relative_to(artifacts)}"
