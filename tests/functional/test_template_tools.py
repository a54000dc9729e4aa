"""template.yaml through the tools that judge it (``sam validate --lint``, checkov, the local-template
script as a command), and against the API app's routes. Each starts a process or imports the app with
a trained model, so they live in the functional tier; the pure template checks are in tests/unit."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import yaml
from starlette.routing import Mount

from tests.cfn import load_template, long_form
from tests.helpers import ROOT


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


def test_checkov_finds_nothing_but_the_inline_skips_with_reasons() -> None:
    checkov = ROOT / ".venv" / "checkov" / "bin" / "checkov"
    assert checkov.exists(), "make setup installs checkov in .venv/checkov"
    env = {**os.environ, "BC_SKIP_MAPPING": "TRUE", "LOG_LEVEL": "ERROR"}
    result = subprocess.run(
        [
            str(checkov),
            "-f",
            "template.yaml",
            "--framework",
            "cloudformation",
            "-o",
            "json",
            "--skip-download",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
        env=env,
    )
    report = json.loads(result.stdout)
    summary = report["summary"]
    failed = [(c["check_id"], c["resource"]) for c in report["results"]["failed_checks"]]
    assert summary["failed"] == 0 and result.returncode == 0, failed
    assert summary["passed"] >= 15 and summary["parsing_errors"] == 0
    for skipped in report["results"]["skipped_checks"]:
        reason = skipped["check_result"].get("suppress_comment", "")
        assert len(reason) > 20 and "\n" not in reason, skipped["check_id"]


def test_cli_writes_beside_the_input_and_rejects_unknown_parameters(tmp_path: Path) -> None:
    built = tmp_path / "template.yaml"
    built.write_text(yaml.safe_dump(long_form(load_template())), encoding="utf-8")
    script = str(ROOT / "scripts" / "sam_local_template.py")
    ok = subprocess.run(
        [sys.executable, script, str(built), str(tmp_path / "local.yaml"), "ModelBackend=joblib"],
        capture_output=True,
        text=True,
    )
    assert ok.returncode == 0, ok.stderr
    local = yaml.safe_load((tmp_path / "local.yaml").read_text(encoding="utf-8"))
    assert {"Ref": "SklearnLayer"} in local["Globals"]["Function"]["Layers"]

    bad = subprocess.run(
        [sys.executable, script, str(built), str(tmp_path / "x.yaml"), "NoSuchParam=1"],
        capture_output=True,
        text=True,
    )
    assert bad.returncode == 2
    assert bad.stderr.startswith("error:") and "NoSuchParam" in bad.stderr
