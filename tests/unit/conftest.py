"""The unit tier: every test runs under :func:`tests.tiers.unit_guard` (set-up, call and tear-down), and
the fixtures that train a model are refused here by name (a session fixture that failed in a unit test
would fail every later test that uses it)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.tiers import MOVE, unit_guard


@pytest.hookimpl(wrapper=True)
def pytest_runtest_setup(item: pytest.Item) -> Iterator[None]:
    with unit_guard():
        return (yield)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Iterator[None]:
    with unit_guard():
        return (yield)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_teardown(item: pytest.Item, nextitem: pytest.Item | None) -> Iterator[None]:
    # After the run's last test (``nextitem`` None) pytest also finalises every session fixture,
    # whichever tier set it up (e.g. e2e's sam build stopping its containers): not this test's doing.
    if nextitem is None:
        return (yield)
    with unit_guard():
        return (yield)


def _trained(name: str) -> None:
    pytest.fail(f"unit tier: the {name} fixture trains a model; {MOVE}", pytrace=False)


@pytest.fixture
def model_layer() -> None:
    _trained("model_layer")


@pytest.fixture
def model_dir() -> None:
    _trained("model_dir")


@pytest.fixture
def api_module() -> None:
    _trained("api_module")
