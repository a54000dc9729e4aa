"""template.yaml is code: it validates, lints clean, and matches the project layout."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.cfn import load_template
from tests.helpers import ROOT


def test_runtime_and_architecture() -> None:
    globals_ = load_template()["Globals"]["Function"]
    assert globals_["Runtime"] == "python3.13"
    assert globals_["Architectures"] == ["x86_64"]
    assert globals_["Environment"]["Variables"]["MODEL_DIR"] == "/opt/model"


def test_each_handler_is_a_function_of_its_code_uri() -> None:
    """Lambda imports ``Handler``'s module from the ``CodeUri`` folder sam build packages."""
    for name, res in load_template()["Resources"].items():
        if res["Type"] != "AWS::Serverless::Function":
            continue
        props = res["Properties"]
        module, function = props["Handler"].rsplit(".", 1)
        source = ROOT / props["CodeUri"] / (module.replace(".", "/") + ".py")
        assert source.is_file(), f"{name}: {props['Handler']} is not in {props['CodeUri']}"
        assert re.search(rf"^\s*(def {function}\b|{function} = )", source.read_text(), re.MULTILINE), name


def test_each_function_is_built_by_the_makefile_in_its_code_uri() -> None:
    """Every function's code ships byte-compiled (Lambda's /var/task is read-only): sam build runs
    ``make build-<LogicalId>`` from the Makefile in its CodeUri (tests/functional/test_function_builds.py
    runs each target)."""
    for name, res in load_template()["Resources"].items():
        if res["Type"] != "AWS::Serverless::Function":
            continue
        assert res.get("Metadata", {}).get("BuildMethod") == "makefile", name
        makefile = ROOT / res["Properties"]["CodeUri"] / "Makefile"
        assert makefile.is_file(), f"{name}: no {makefile.relative_to(ROOT)}"
        targets = re.findall(r"^([\w\- ]+):", makefile.read_text(), re.MULTILINE)
        assert f"build-{name}" in " ".join(targets).split(), f"{name}: no build-{name} target in {makefile}"


def test_no_wildcard_iam_actions() -> None:
    text = (ROOT / "template.yaml").read_text()
    assert not re.search(r"Action:\s*['\"]?\*", text)
    assert not re.search(r"-\s*['\"]?[a-z0-9]+:\*['\"]?\s*$", text, re.MULTILINE)


def test_layers_exist_where_the_template_says() -> None:
    resources = load_template()["Resources"]
    for name, res in resources.items():
        if res["Type"] == "AWS::Serverless::LayerVersion":
            assert (ROOT / res["Properties"]["ContentUri"]).is_dir(), name
    assert (ROOT / "layers/common/python/textclf/__init__.py").is_file()


@pytest.mark.parametrize("layer_file", ["requirements.txt", "requirements-sklearn.txt"])
def test_runtime_layer_pins_match_the_dev_lock(layer_file: str) -> None:
    def pins(path: Path) -> dict[str, str]:
        out = {}
        for line in path.read_text().splitlines():
            line = line.split("#")[0].strip()
            if "==" in line:
                name, version = line.split("==")
                out[re.sub(r"[-_.]+", "-", name).lower()] = version
        return out

    layer, lock = pins(ROOT / "layers/deps" / layer_file), pins(ROOT / "requirements/dev.lock")
    assert layer, f"layers/deps/{layer_file} pins nothing"
    mismatched = {n: (v, lock.get(n)) for n, v in layer.items() if lock.get(n) != v}
    assert not mismatched, f"layer pin != dev lock: {mismatched}"


def test_lean_layer_carries_no_scikit_learn() -> None:
    lines = (ROOT / "layers/deps/requirements.txt").read_text().lower().splitlines()
    pinned = {line.split("==")[0] for line in lines if "==" in line and not line.startswith("#")}
    assert pinned.isdisjoint({"scikit-learn", "scikit_learn", "scipy", "joblib"})
    template = load_template()
    assert template["Resources"]["SklearnLayer"]["Condition"] == "UseSklearn"


def test_sklearn_layer_lists_its_whole_dependency_closure() -> None:
    """SklearnLayer installs with --no-deps, so every runtime dependency must be listed."""
    from importlib import metadata

    from packaging.requirements import Requirement

    def norm(name: str) -> str:
        return re.sub(r"[-_.]+", "-", name).lower()

    listed = {
        norm(line.split("==")[0])
        for line in (ROOT / "layers/deps/requirements-sklearn.txt").read_text().splitlines()
        if "==" in line and not line.startswith("#")
    }
    provided_by_deps_layer = {"numpy"}
    todo, closure = sorted(listed), set()
    while todo:
        name = todo.pop()
        for spec in metadata.requires(name) or []:
            req = Requirement(spec)
            if req.marker and not req.marker.evaluate({"extra": ""}):
                continue
            dep = norm(req.name)
            if dep not in closure and dep not in provided_by_deps_layer:
                closure.add(dep)
                todo.append(dep)
    assert closure <= listed, f"missing from requirements-sklearn.txt: {sorted(closure - listed)}"
