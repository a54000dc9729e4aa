"""What ``sam build`` ships: a lean DepsLayer, bytecode Lambda can use as is, and a size budget."""

from __future__ import annotations

import struct
from pathlib import Path

import pytest

from tests.e2e.samlocal import SamBuild, sizes

pytestmark = [pytest.mark.samlocal, pytest.mark.usefixtures("docker_required")]

MB = 1_000_000
LEAN_BUDGET = 90 * MB  # ApiFunction + DepsLayer + CommonLayer + ModelLayer
LAMBDA_UNZIPPED_LIMIT = 250 * 1024 * 1024  # function + all its layers, a hard Lambda limit


def pyc_flags(path: Path) -> int:
    """The PEP 552 flags word of a .pyc: 0b01 = hash-based, unchecked (source never stat-ed)."""
    header = path.read_bytes()[:16]
    flags: int = struct.unpack("<I", header[4:8])[0]
    return flags


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
