"""Fixtures for every test level: a model trained once per session from the bundled data."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path
from types import ModuleType

import pytest

from tests.helpers import BUNDLED_DATA, load_function
from tests.tiers import tier_of
from textclf.model import get_predictor
from textclf.settings import get_settings
from training.train import TrainConfig, train


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark each test with its tier, the folder it is in (``pytest -m "unit or functional"``)."""
    for item in items:
        tier = tier_of(item.path)
        if tier is not None:
            item.add_marker(tier)


def reset_caches() -> None:
    get_settings.cache_clear()
    get_predictor.cache_clear()


@pytest.fixture(scope="session", autouse=True)
def _aws_test_environment() -> Iterator[None]:
    """Fake credentials and a region for every test, so nothing can reach real AWS."""
    with pytest.MonkeyPatch.context() as mp:
        for key in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN", "AWS_ENDPOINT_URL"):
            mp.delenv(key, raising=False)
        mp.setenv("AWS_ACCESS_KEY_ID", "testing")
        mp.setenv("AWS_SECRET_ACCESS_KEY", "testing")
        mp.setenv("AWS_DEFAULT_REGION", "us-east-1")
        mp.setenv("POWERTOOLS_SERVICE_NAME", "textclf-test")
        mp.setenv("POWERTOOLS_LOG_LEVEL", "WARNING")
        # the API writes each request's metrics at once (tests of the buffering set their own size)
        mp.setenv("METRICS_FLUSH_REQUESTS", "1")
        yield


@pytest.fixture(scope="session")
def progress(pytestconfig: pytest.Config) -> Callable[[str], None]:
    """Print one line to the terminal at once, for set-up steps that take a while.

    Output of tests and fixtures is captured until they end; this suspends the capture and
    writes through pytest's terminal reporter, so a long set-up says what it is doing as it goes.
    """
    reporter = pytestconfig.pluginmanager.get_plugin("terminalreporter")
    capture = pytestconfig.pluginmanager.get_plugin("capturemanager")

    def say(message: str) -> None:
        if reporter is None or capture is None:
            return
        with capture.global_and_fixture_disabled():
            reporter.write_line(f"[setup] {message}")
            reporter.flush()

    return say


@pytest.fixture(scope="session")
def model_layer(tmp_path_factory: pytest.TempPathFactory, progress: Callable[[str], None]) -> Path:
    """A model layer folder trained on the bundled dataset (``<layer>/model/``)."""
    layer = tmp_path_factory.mktemp("model-layer")
    progress(f"training the session's model on {BUNDLED_DATA.name} (once per test run) ...")
    started = time.monotonic()
    # default options, with a time budget no busy machine can exhaust: the search then
    # always completes, so the version is reproducible (tests compare against it)
    train(TrainConfig(data=BUNDLED_DATA, output=layer, time_budget=600))
    progress(f"model trained in {time.monotonic() - started:.0f} s")
    return layer


@pytest.fixture(scope="session")
def model_dir(model_layer: Path) -> Path:
    return model_layer / "model"


@pytest.fixture(scope="session")
def api_module(model_dir: Path) -> Iterator[ModuleType]:
    """The API function's handler module (``textclf_api.main``), imported with MODEL_DIR pointing at
    the session model."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("MODEL_DIR", str(model_dir))
        reset_caches()
        module = load_function("api")
        yield module
    reset_caches()


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch) -> Iterator[pytest.MonkeyPatch]:
    """Settings and predictor caches cleared before and after the test."""
    reset_caches()
    yield monkeypatch
    monkeypatch.undo()
    reset_caches()
