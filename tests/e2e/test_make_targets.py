"""The Makefile's sam local targets as a developer runs them: from a copy of the project whose path
contains a space, with hostile variables exported, and against a local S3.

The copy holds the checkout's files (tracked and new, as ``git ls-files`` lists them) and the
session's model; it uses this test run's virtualenv (``VENV=``), so ``make`` only builds (once,
``make invoke``'s own ``sam build``) and invokes. File times are set so that Make sees the venv
and the model as up to date, as after ``make setup`` and ``make train``.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.e2e.samlocal import IMAGE, INVOKE_TIMEOUT, SamBuild, sam_env
from tests.helpers import BUNDLED_DATA, ROOT

pytestmark = [pytest.mark.samlocal, pytest.mark.usefixtures("docker_required")]

OLD = 1_000_000_000  # 2001: older than any venv, so Make never rebuilds it from the copy


@pytest.fixture(scope="module")
def checkout(sam_build: SamBuild, tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("make") / "my projects" / "textclf copy"
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT,
        capture_output=True,
        check=True,
    ).stdout.decode()
    for name in filter(None, listed.split("\0")):
        source = ROOT / name
        if source.is_file():
            target = root / name
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target)
            os.utime(target, (OLD, OLD))
    shutil.copytree(sam_build.model_layer, root / "layers" / "model", dirs_exist_ok=True)
    now = time.time()
    for path in (root / "layers" / "model").rglob("*"):
        os.utime(path, (now, now))
    yield root
    subprocess.run(
        ["docker", "container", "prune", "-f", "--filter", "label=sam.cli.container.type"], check=False
    )


def make(checkout: Path, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    venv = Path(sys.executable).parent.parent
    return subprocess.run(
        ["make", "--no-print-directory", f"VENV={venv}", f"LOCAL_IMAGE={IMAGE}", *args],
        cwd=checkout,
        env=env if env is not None else sam_env(),
        capture_output=True,
        text=True,
        timeout=INVOKE_TIMEOUT + 900,
    )


def answer(stdout: str) -> dict[str, object]:
    """``make invoke``'s stdout is the answer and nothing else (the README: a script can parse it)."""
    result: dict[str, object] = json.loads(stdout)
    return result


@pytest.fixture(scope="module")
def first_invoke(checkout: Path) -> subprocess.CompletedProcess[str]:
    """``make invoke`` with MODEL_DIR and MAX_TEXT_CHARS exported, as after ``make serve``."""
    env = {**sam_env(), "MODEL_DIR": "layers/model/model", "MAX_TEXT_CHARS": "10"}
    return make(checkout, "invoke", env=env)


def test_invoke_ignores_the_callers_variables_from_a_path_with_a_space(
    first_invoke: subprocess.CompletedProcess[str],
) -> None:
    assert first_invoke.returncode == 0, first_invoke.stderr[-3000:]
    result = answer(first_invoke.stdout)
    assert result["statusCode"] == 200, result  # MAX_TEXT_CHARS=10 would have made it a 422
    assert json.loads(str(result["body"]))["label"] == "billing"
    assert re.search(r"not passing MAX_TEXT_CHARS, MODEL_DIR from your shell", first_invoke.stderr)


def test_local_build_is_incremental_and_lean(
    checkout: Path, first_invoke: subprocess.CompletedProcess[str]
) -> None:
    assert first_invoke.returncode == 0, first_invoke.stderr[-3000:]
    again = make(checkout, "local-template")
    assert again.returncode == 0, again.stderr[-3000:]
    assert "sam build" not in again.stdout + again.stderr, again.stdout
    built = checkout / ".aws-sam" / "local" / "build"
    manifest = json.loads((checkout / "layers" / "model" / "model" / "manifest.json").read_text())
    assert (built / "SklearnLayer").exists() is ("lean" not in manifest.get("backends", {}))


def test_invoke_exits_non_zero_when_the_handler_raises(
    checkout: Path, first_invoke: subprocess.CompletedProcess[str], tmp_path: Path
) -> None:
    event = tmp_path / "not an api event.json"
    event.write_text("{}", encoding="utf-8")
    run = make(checkout, "invoke", f"EVENT={event}")
    assert run.returncode != 0, run.stdout
    assert "error: ApiFunction failed: RuntimeError" in run.stderr, run.stderr[-3000:]


def test_invoke_exits_non_zero_on_an_init_error(
    checkout: Path, first_invoke: subprocess.CompletedProcess[str], tmp_path: Path
) -> None:
    env_vars = tmp_path / "env vars.json"
    env_vars.write_text(json.dumps({"ApiFunction": {"MAX_TEXT_CHARS": "abc"}}), encoding="utf-8")
    run = make(checkout, "invoke", f"ENV_VARS={env_vars}")
    assert run.returncode != 0, run.stdout
    assert re.search(r"error: ApiFunction failed: \S*SettingsError: .*MAX_TEXT_CHARS", run.stderr), (
        run.stderr[-3000:]
    )


def test_invoke_batch_function_points_to_local_s3(checkout: Path) -> None:
    run = make(checkout, "invoke", "FUNCTION=BatchFunction")
    assert run.returncode != 0
    assert "make local-s3 FILE=" in run.stderr and "Traceback" not in run.stderr, run.stderr


def test_local_s3_scores_a_file_and_stops_its_server(
    checkout: Path, first_invoke: subprocess.CompletedProcess[str], tmp_path: Path
) -> None:
    rows = BUNDLED_DATA.read_text(encoding="utf-8").splitlines()[:8]
    data = tmp_path / "tickets ü.csv"
    data.write_text("\n".join(rows) + "\n", encoding="utf-8")
    run = make(checkout, "local-s3", f"FILE={data}")
    assert run.returncode == 0, run.stderr[-3000:]
    out = run.stdout
    assert "s3://textclf-local-data/predictions/tickets ü.csv (" in out, out
    assert "s3://textclf-local-data/predictions/tickets ü.csv.summary.json" in out, out
    assert '"status": "ok"' in out, out
    # the first lines of the predictions: the header, then scored rows with the input's texts
    shown = out.split("predictions/tickets ü.csv (", 1)[1].splitlines()[1:4]
    assert "label" in shown[0] and rows[1].split(",")[0][:20] in shown[1], shown
    assert "[local-s3] moto server stopped" in out
    host, port = re.search(r"moto S3 server on http://([\d.]+):(\d+)", out).groups()  # type: ignore[union-attr]
    with pytest.raises(OSError), socket.create_connection((host, int(port)), timeout=2):
        pass
