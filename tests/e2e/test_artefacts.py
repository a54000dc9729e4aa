"""What ``sam build`` ships: a lean DepsLayer, bytecode Lambda can use as is, and a size budget."""

from __future__ import annotations

import pytest

from tests.e2e.samlocal import SamBuild, sizes
from tests.helpers import pyc_flags

pytestmark = [pytest.mark.samlocal, pytest.mark.usefixtures("docker_required")]

MB = 1_000_000
LEAN_BUDGET = 90 * MB  # ApiFunction + DepsLayer + CommonLayer + ModelLayer
LAMBDA_UNZIPPED_LIMIT = 250 * 1024 * 1024  # function + all its layers, a hard Lambda limit


def test_deps_layer_has_no_scikit_learn_or_scipy(sam_build: SamBuild) -> None:
    site = sam_build.layer_dir("DepsLayer") / "python"
    assert (site / "fastapi").is_dir() and (site / "numpy").is_dir()
    for name in ("sklearn", "scipy", "joblib"):
        assert not (site / name).exists(), f"{name} in DepsLayer"
        assert not list(site.glob(f"{name}-*.dist-info")), f"{name} metadata in DepsLayer"
    assert not (site / "pydantic" / "v1").exists(), (
        "pydantic.v1 is trimmed (FastAPI only imports it to refuse it)"
    )


@pytest.mark.parametrize("layer", ["DepsLayer", "CommonLayer"])
def test_layers_ship_unchecked_hash_bytecode(sam_build: SamBuild, layer: str) -> None:
    site = sam_build.layer_dir(layer) / "python"
    sources = [p for p in site.rglob("*.py") if "__pycache__" not in p.parts]
    assert sources
    missing = [p for p in sources if not (p.parent / "__pycache__" / f"{p.stem}.cpython-313.pyc").is_file()]
    assert not missing, f"{len(missing)} modules without bytecode, e.g. {missing[:3]}"
    pycs = list(site.rglob("*.cpython-313.pyc"))
    wrong = [p for p in pycs if pyc_flags(p) != 0b01]
    assert not wrong, f"{len(wrong)} .pyc files not unchecked-hash, e.g. {wrong[:3]}"


@pytest.mark.parametrize("function", ["ApiFunction", "BatchFunction", "PreTrafficHookFunction"])
def test_functions_ship_unchecked_hash_bytecode(sam_build: SamBuild, function: str) -> None:
    """/var/task is read-only on Lambda too: code without bytecode is compiled on every cold start."""
    task = sam_build.build_dir / function
    sources = [p for p in task.rglob("*.py") if "__pycache__" not in p.parts]
    assert sources
    missing = [p for p in sources if not (p.parent / "__pycache__" / f"{p.stem}.cpython-313.pyc").is_file()]
    assert not missing, f"{len(missing)} modules without bytecode, e.g. {missing[:3]}"
    assert all(pyc_flags(p) == 0b01 for p in task.rglob("*.cpython-313.pyc"))


def test_deployed_size_within_budget(sam_build: SamBuild) -> None:
    lean = sizes(
        [
            sam_build.build_dir / "ApiFunction",
            sam_build.layer_dir("DepsLayer"),
            sam_build.layer_dir("CommonLayer"),
            sam_build.layer_dir("ModelLayer"),
        ]
    )
    assert lean < LEAN_BUDGET, f"ApiFunction + layers = {lean / MB:.1f} MB (budget {LEAN_BUDGET / MB:.0f} MB)"
    if sam_build.backend == "joblib":
        total = lean + sizes([sam_build.layer_dir("SklearnLayer")])
        assert total < LAMBDA_UNZIPPED_LIMIT, f"with the scikit-learn layer: {total / MB:.1f} MB"
