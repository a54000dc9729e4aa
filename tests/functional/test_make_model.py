"""The Makefile never replaces a user's model behind their back.

``make -n`` (print the commands, run nothing) against a fake layer folder: with a model
present, whether its manifest is older or newer than the training code, the lock file
and the data, no target but ``train`` (and the explicit ``clean-model``) has a command
that writes the model folder; with no model, the targets that need one train the
bundled sample and say so.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.helpers import ROOT

MAKE = shutil.which("make")
pytestmark = pytest.mark.skipif(MAKE is None, reason="GNU make is not installed")

# every target that reads the model (directly or through `build` / `local-template`), and the
# housekeeping ones; `train` and `clean-model` are the only ones allowed to write it
READERS = (
    "run", "serve", "model", "build", "deploy", "invoke", "local-api", "local-lambda",
    "local-template", "bench", "bench-batch", "clean", "setup", "validate", "help",
)  # fmt: skip
NEEDS_MODEL = ("run", "serve", "build", "deploy", "invoke", "local-api", "bench")
WRITES = re.compile(r"(^|[\s;&|(])(rm|mv|cp|rsync|touch|tee|install|find)\s|>")
TRAINS = "-m training train"


def trains(line: str) -> bool:
    """A command (not a message) that runs training."""
    return TRAINS in line and not line.lstrip().startswith("echo ")


def sources() -> list[Path]:
    """What the old rule depended on: a change to any of these used to retrain."""
    found = [*ROOT.glob("training/*.py"), ROOT / "pyproject.toml", ROOT / "requirements" / "dev.lock"]
    return [*found, ROOT / "training" / "data" / "support_tickets.csv"]


@pytest.fixture
def sandbox(tmp_path: Path) -> dict[str, Path]:
    """A fake venv (up to date) and an empty layer folder outside the repository."""
    venv = tmp_path / "venv"
    (venv / "bin").mkdir(parents=True)
    (venv / ".installed").touch()
    newest = max(p.stat().st_mtime for p in sources())
    os.utime(venv / ".installed", (newest + 60, newest + 60))
    return {"venv": venv, "layer": tmp_path / "layer"}


def fake_model(layer: Path, mtime: float) -> Path:
    model = layer / "model"
    model.mkdir(parents=True)
    manifest = model / "manifest.json"
    manifest.write_text('{"version": "0123456789abcdef", "classes": ["a", "b"], "files": {}, "backends": {}}')
    (model / "model.joblib").write_bytes(b"users own model")
    for path in (manifest, model / "model.joblib"):
        os.utime(path, (mtime, mtime))
    return manifest


def dry_run(target: str, box: dict[str, Path]) -> str:
    result = subprocess.run(
        [
            MAKE or "make",
            "-n",
            "--no-print-directory",
            target,
            f"VENV={box['venv']}",
            f"MODEL_LAYER={box['layer']}",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "MAKEFLAGS": ""},
    )
    assert result.returncode == 0, f"make -n {target}: {result.stderr}"
    return result.stdout


def model_writes(commands: str, layer: Path) -> list[str]:
    """Command lines that train, or that touch the layer folder with a writing command."""
    return [
        line
        for line in commands.splitlines()
        if trains(line) or (str(layer) in line and WRITES.search(line.replace("2>/dev/null", "")))
    ]


@pytest.mark.parametrize("age", ["older", "newer"])
@pytest.mark.parametrize("target", READERS)
def test_no_target_but_train_writes_an_existing_model(
    target: str, age: str, sandbox: dict[str, Path]
) -> None:
    newest = max(p.stat().st_mtime for p in sources())
    # older: a `git pull` touched training code / the lock file after the model was trained
    fake_model(sandbox["layer"], newest - 3600 if age == "older" else newest + 3600)
    commands = dry_run(target, sandbox)
    assert model_writes(commands, sandbox["layer"]) == [], commands


@pytest.mark.parametrize("age", ["older", "newer"])
def test_train_and_clean_model_are_the_explicit_writers(age: str, sandbox: dict[str, Path]) -> None:
    newest = max(p.stat().st_mtime for p in sources())
    fake_model(sandbox["layer"], newest - 3600 if age == "older" else newest + 3600)
    train = dry_run("train", sandbox)
    assert [line for line in train.splitlines() if trains(line)] == [
        f"{sandbox['venv']}/bin/python -m training train --data training/data/support_tickets.csv "
        f"--output {sandbox['layer']} "
    ]
    assert model_writes(dry_run("clean-model", sandbox), sandbox["layer"]) != []


@pytest.mark.parametrize("target", NEEDS_MODEL)
def test_without_a_model_the_sample_is_trained_and_announced(target: str, sandbox: dict[str, Path]) -> None:
    commands = dry_run(target, sandbox)
    training = [line for line in commands.splitlines() if trains(line)]
    assert len(training) == 1 and f"--output {sandbox['layer']}" in training[0], commands
    assert f"no model in {sandbox['layer']}/model yet: training one on training/data/support_tickets.csv" in (
        commands
    )


def test_clean_keeps_the_model(sandbox: dict[str, Path]) -> None:
    fake_model(sandbox["layer"], 0)
    commands = dry_run("clean", sandbox)
    assert "rm -rf .aws-sam" in commands and str(sandbox["layer"]) not in commands
