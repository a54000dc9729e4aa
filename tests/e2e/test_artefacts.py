"""What ``sam build`` ships: a lean DepsLayer, bytecode Lambda can use as is, a function that serves
from its own code and layers alone, and a size budget."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from tests.e2e.samlocal import SamBuild, sizes
from tests.helpers import ROOT, pyc_flags

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


# The handler's first request in an interpreter that sees only the built function and its layers, as
# Lambda lays them out (make bench's cold start runs the same way); prints the modules it imported
# from anywhere else than those folders and the standard library.
SELF_CONTAINED = """
import json, sys, sysconfig
paths = sys.argv[1].split(":")
sys.path[:0] = paths
from scripts.lambda_context import LambdaContext, load_event
import textclf_api.main as main
response = main.handler(load_event("apigw-v2-predict.json"), LambdaContext())
stdlib = sysconfig.get_paths()["stdlib"]
outside = sorted(
    name for name, module in sys.modules.items()
    if getattr(module, "__file__", None)
    and not module.__file__.startswith((*paths, stdlib, sys.argv[2]))
)
print(json.dumps({"status": response["statusCode"], "outside": outside}))
"""


def test_the_built_function_serves_from_its_own_code_and_layers(sam_build: SamBuild) -> None:
    layers = [sam_build.layer_dir(n) / "python" for n in sam_build.attached_layers if n != "ModelLayer"]
    paths = [str(sam_build.build_dir / "ApiFunction"), *map(str, layers)]
    model_dir = sam_build.model_layer / "model"
    env = {"PATH": os.environ["PATH"], "MODEL_DIR": str(model_dir), "PYTHONPATH": str(ROOT)}
    # -S: no site-packages (the development venv); PYTHONPATH only brings the repository's scripts/
    out = subprocess.run(
        [sys.executable, "-S", "-c", SELF_CONTAINED, ":".join(paths), str(ROOT / "scripts")],
        capture_output=True,
        text=True,
        env=env,
        cwd=sam_build.workdir,
        timeout=120,
    )
    assert out.returncode == 0, out.stderr[-2000:]
    result = json.loads([line for line in out.stdout.splitlines() if line.startswith('{"status"')][-1])
    assert result["status"] == 200
    assert result["outside"] == [], "imported from outside the built function and layers"


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
