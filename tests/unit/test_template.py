"""template.yaml is code: it validates, lints clean, and matches the project layout."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml
from starlette.routing import Mount

from tests.helpers import ROOT


class _Loader(yaml.SafeLoader):
    """YAML loader that keeps CloudFormation short-form tags (!Ref, !Sub, ...) as plain data."""


def _any_tag(loader: yaml.SafeLoader, suffix: str, node: yaml.Node) -> Any:
    if isinstance(node, yaml.ScalarNode):
        return {suffix: loader.construct_scalar(node)}
    if isinstance(node, yaml.SequenceNode):
        return {suffix: loader.construct_sequence(node, deep=True)}
    return {suffix: loader.construct_mapping(node, deep=True)}  # type: ignore[arg-type]


_Loader.add_multi_constructor("!", _any_tag)


def load_template() -> dict[str, Any]:
    return yaml.load((ROOT / "template.yaml").read_text(), Loader=_Loader)  # noqa: S506


def test_sam_validate_lint_passes_without_warnings() -> None:
    sam = shutil.which("sam", path=str(Path(os.sys.executable).parent)) or shutil.which("sam")
    assert sam, "sam CLI not installed (make setup installs aws-sam-cli)"
    env = {**os.environ, "SAM_CLI_TELEMETRY": "0", "AWS_DEFAULT_REGION": "us-east-1"}
    result = subprocess.run(
        [sam, "validate", "--lint", "--template-file", str(ROOT / "template.yaml")],
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
        cwd=ROOT,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert "is a valid SAM Template" in output
    assert not re.search(r"\b[WE]\d{4}\b", output), output


def test_runtime_and_architecture() -> None:
    globals_ = load_template()["Globals"]["Function"]
    assert globals_["Runtime"] == "python3.13"
    assert globals_["Architectures"] == ["x86_64"]
    assert globals_["Environment"]["Variables"]["MODEL_DIR"] == "/opt/model"


def test_api_function_routes_match_the_app(api_module) -> None:
    resources = load_template()["Resources"]
    api = resources["ApiFunction"]["Properties"]
    assert api["Handler"] == "textclf_api.main.handler" and api["CodeUri"] == "functions/api/"
    routes = {(e["Properties"]["Method"], e["Properties"]["Path"]) for e in api["Events"].values()}
    # Starlette answers HEAD on every GET route by itself; a HEAD the app declares is a route
    app_routes = {
        (method, route.path)
        for route in api_module.app.routes
        for methods in [getattr(route, "methods", None) or set()]
        for method in methods - ({"HEAD"} if "GET" in methods else set())
    }
    # mounted file trees (the docs' assets) are one greedy GET route each
    app_routes |= {("GET", r.path + "/{proxy+}") for r in api_module.app.routes if isinstance(r, Mount)}
    assert ("GET", "/docs/assets/{proxy+}") in app_routes and ("GET", "/redoc") in app_routes
    assert app_routes == routes


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
