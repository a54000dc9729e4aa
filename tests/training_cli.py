"""Helpers for the tests of the training command: running it (as a process or in-process), writing
input files, and checking what a run wrote or refused."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.helpers import ROOT
from textclf.manifest import sha256_file
from training.cli import main

# no search: for tests about what happens around it
NO_SEARCH = ("--time-budget", "0", "--quiet")
# no search, two folds, progress on (a refusal must stay one line on stderr even then)
TWO_FOLDS_NO_SEARCH = ["--time-budget", "0", "--cv-folds", "2"]
# three vocabularies far apart: small files whose classes any model separates
TOPICS = {
    "a": "parcel delivery courier tracking late arrived box shipping",
    "b": "refund charge invoice payment card billing money price",
    "c": "password login account email reset username profile",
}


def run_cli(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    """``python -m training ARGS`` as a process (text output captured, 300 s at most)."""
    return subprocess.run(
        [sys.executable, "-m", "training", *args], cwd=cwd, capture_output=True, text=True, timeout=300
    )


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    """The training command in-process: (exit code, stdout, stderr)."""
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def write(path: Path, content: str | bytes) -> Path:
    """``content`` into ``path`` as is (UTF-8 for text, no newline translation); returns ``path``."""
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content, encoding="utf-8", newline="")
    return path


def jsonl(path: Path, objects: list[Any]) -> Path:
    """One JSON document per line (non-ASCII kept), into ``path``."""
    return write(path, "".join(json.dumps(o, ensure_ascii=False) + "\n" for o in objects))


def sentence(topic: str, i: int) -> str:
    """The ``i``-th four-word text of ``topic`` (a key of :data:`TOPICS`), made unique by a ticket number."""
    words = TOPICS[topic].split()
    return " ".join(words[(i + k) % len(words)] for k in range(4)) + f" ticket{i}"


def tree_snapshot(folder: Path) -> dict[str, str]:
    """SHA-256 of every file under ``folder``, by relative path (to show a run left it untouched)."""
    return {str(p.relative_to(folder)): sha256_file(p) for p in sorted(folder.rglob("*")) if p.is_file()}


def assert_refused(result: tuple[int, str, str], message: str, output: Path) -> None:
    """A refusal: exit code 2, one ``error: ...`` line naming ``message``, no traceback, nothing written."""
    code, out, err = result
    assert code == 2, (out, err)
    assert err.startswith("error: ") and err.count("\n") == 1 and err.endswith("\n"), err
    assert message in err, err
    assert "Traceback" not in err
    assert not output.exists(), "a refused run must write nothing"


def strict_manifest(model_dir: Path) -> dict[str, Any]:
    """manifest.json read as strict JSON (NaN or Infinity in it fails the test)."""

    def refuse(constant: str) -> None:
        raise AssertionError(f"manifest.json holds {constant}, which is not JSON")

    loaded: dict[str, Any] = json.loads(
        (model_dir / "manifest.json").read_text(encoding="utf-8"), parse_constant=refuse
    )
    return loaded
