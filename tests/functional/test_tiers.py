"""The unit tier's guard fails what the tier does not allow, and every test carries its tier's marker."""

from __future__ import annotations

import asyncio
import multiprocessing
import os
import socket
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.pipeline import make_pipeline
from sklearn.svm import LinearSVC

from tests.tiers import TIERS, TierViolation, tier_of, unit_guard
from training.train import TrainConfig, train

ROOT = Path(__file__).resolve().parents[2]


def test_a_process_is_refused() -> None:
    with unit_guard():
        with pytest.raises(TierViolation, match="starts a process"):
            subprocess.run([sys.executable, "-c", "pass"], check=False)
        with pytest.raises(TierViolation, match="starts a process"):
            os.system("true")
        with pytest.raises(TierViolation, match="starts a process"):
            multiprocessing.get_context("spawn").Process(target=print).start()
    # and allowed again once the guard is gone
    assert subprocess.run([sys.executable, "-c", "pass"], check=False).returncode == 0


def test_the_network_beyond_loopback_is_refused() -> None:
    with unit_guard():
        with socket.socket() as sock, pytest.raises(TierViolation, match="not loopback"):
            sock.connect(("192.0.2.1", 443))  # TEST-NET-1: never routed
        with pytest.raises(TierViolation, match="resolves the host name"):
            socket.getaddrinfo("s3.amazonaws.com", 443)
        with socket.socket(socket.AF_UNIX) as unix, pytest.raises(TierViolation, match="Unix socket"):
            unix.connect("/var/run/docker.sock")
        # loopback is allowed: a server in the same process, and asyncio's own socket pair
        with socket.socket() as server:
            server.bind(("127.0.0.1", 0))
            server.listen()
            with socket.create_connection(server.getsockname()):
                pass
        asyncio.run(asyncio.sleep(0))


def test_training_is_refused_but_text_analysis_is_not(tmp_path: Path) -> None:
    texts, labels = ["refund my order", "the app crashes", "refund please", "crash on start"], "abab"
    with unit_guard():
        with pytest.raises(TierViolation, match="trains a model"):
            make_pipeline(TfidfVectorizer(), LinearSVC()).fit(texts, list(labels))
        with pytest.raises(TierViolation, match="trains a model"):
            LinearSVC().fit(np.eye(4), list(labels))
        with pytest.raises(TierViolation, match="trains a model"):
            train(TrainConfig(data=ROOT / "training" / "data" / "support_tickets.csv", output=tmp_path))
        assert TfidfVectorizer().fit_transform(texts).shape[0] == 4


def test_a_unit_test_that_breaks_the_rules_fails(pytester: pytest.Pytester) -> None:
    """The guard is wired into the unit tier's hooks: a test that starts a process or asks for the
    session's trained model fails, with the reason; the same test outside the unit tier passes."""
    pytester.makeconftest(
        "from tests.conftest import *  # noqa: F403\nfrom tests.unit.conftest import *  # noqa: F403\n"
    )
    pytester.makepyfile(
        test_rules="""
        import subprocess, sys

        def test_process():
            subprocess.run([sys.executable, "-c", "pass"], check=True)

        def test_model(model_dir):
            pass

        def test_fine():
            assert sum(range(4)) == 6
        """
    )
    result = pytester.runpytest_inprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=1, failed=1, errors=1)
    result.stdout.fnmatch_lines(
        ["*unit tier: the model_dir fixture trains*", "*unit tier: starts a process*"]
    )


def test_session_fixtures_finalised_after_the_last_unit_test_are_not_its_doing(
    pytester: pytest.Pytester,
) -> None:
    """When the run ends on a unit test, pytest tears down every session fixture inside that test's
    teardown (CI: e2e's sam build stopping its containers after the whole suite). That is not the
    unit test starting a process; a unit test's own fixture doing so mid-run still fails."""
    pytester.makeconftest(
        """
        import subprocess, sys
        import pytest
        from tests.conftest import *  # noqa: F403
        from tests.unit.conftest import *  # noqa: F403

        @pytest.fixture(scope="session")
        def containers():
            yield
            subprocess.run([sys.executable, "-c", "pass"], check=True)

        @pytest.fixture
        def own():
            yield
            subprocess.run([sys.executable, "-c", "pass"], check=True)
        """
    )
    pytester.makepyfile(
        test_a="""
        def test_other_tier(containers):
            pass

        def test_own_teardown(own):
            pass

        def test_last():
            pass
        """
    )
    result = pytester.runpytest_inprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=3, errors=1)
    result.stdout.fnmatch_lines(["*ERROR at teardown of test_own_teardown*"])


def test_every_test_file_is_in_a_tier_and_marked_with_it(request: pytest.FixtureRequest) -> None:
    files = list((ROOT / "tests").rglob("test_*.py"))
    assert files and all(tier_of(p) in TIERS for p in files), [p for p in files if tier_of(p) is None]
    assert request.node.get_closest_marker("functional") is not None
    assert {m.name for m in request.node.iter_markers()} & set(TIERS) == {"functional"}
