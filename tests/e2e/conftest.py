"""sam local fixtures: Docker or a clear skip (a failure under REQUIRE_DOCKER=1), one build per session."""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.e2e.samlocal import SamBuild, build, docker_problem
from tests.helpers import ROOT


@pytest.fixture(scope="session")
def docker_required() -> None:
    """Skip (one line, with the reason) without Docker; with REQUIRE_DOCKER=1, fail instead."""
    problem = docker_problem()
    if problem is None:
        return
    if os.environ.get("REQUIRE_DOCKER") == "1":
        pytest.fail(f"REQUIRE_DOCKER=1 but sam local cannot run: {problem}", pytrace=False)
    pytest.skip(f"sam local tests need Docker: {problem}")


@pytest.fixture(scope="session")
def sam_build(
    docker_required: None,
    model_layer: Path,
    tmp_path_factory: pytest.TempPathFactory,
    progress: Callable[[str], None],
) -> Iterator[SamBuild]:
    """The repository template built once (tmp build dir, session-trained model), cleaned up after.

    The model is the session's (trained from the bundled data into a tmp folder): a model the
    user trained into layers/model/ is never touched. ModelBackend comes from its manifest,
    exactly as ``make invoke`` picks it.
    """
    backend = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "model_backend.py"), str(model_layer / "model")],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    workdir = tmp_path_factory.mktemp("samlocal")
    progress(f"sam build into {workdir} (ModelBackend={backend}; once per test run, tens of seconds) ...")
    started = time.monotonic()
    built = build(workdir, model_layer, backend, f"E2e{secrets.token_hex(4)}")
    progress(
        f"sam build done in {time.monotonic() - started:.0f} s; the first sam local call of each "
        "function also builds its image from the layers (several seconds)"
    )
    try:
        yield built
    finally:
        built.cleanup()
