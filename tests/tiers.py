"""The test tiers, and the guard that keeps the unit tier to what it promises.

Each folder under ``tests/`` is a tier, named by what its tests need (``tests/conftest.py`` marks every
test with its folder's name, so ``pytest -m unit`` and ``pytest tests/unit`` select the same tests):

- ``unit``: nothing but the interpreter and the files in the repository; the whole tier runs in seconds.
  :func:`unit_guard` fails a unit test that starts a process, opens a socket to anything but loopback
  (or a Unix socket: Docker's), resolves a host name that is not loopback, or trains a model;
- ``functional``: the handlers with a model trained once per session, the training command on small
  files, processes (``make``, ``sam validate``, checkov);
- ``integration``: AWS through moto; ``quality``: real datasets (``../shared/datasets``, skipped when
  absent) and accuracy targets; ``e2e``: Docker and ``sam local``; ``browser``: headless Chromium.
"""

from __future__ import annotations

import os
import socket
import subprocess
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, NoReturn

import pytest

TESTS = Path(__file__).resolve().parent
TIERS = ("unit", "functional", "integration", "quality", "e2e", "browser")
LOOPBACK_HOSTS = {"127.0.0.1", "::1", "localhost", "", "0.0.0.0", "::"}
MOVE = "a test that needs this belongs in tests/functional (or integration, e2e)"


class TierViolation(AssertionError):
    """A unit test did what the unit tier does not allow (a process, the network, training)."""


def tier_of(path: Path) -> str | None:
    """The tier of a test file: the first folder under ``tests/`` if it is one of :data:`TIERS`."""
    try:
        parts = path.resolve().relative_to(TESTS).parts
    except ValueError:
        return None
    return parts[0] if len(parts) > 1 and parts[0] in TIERS else None


def _refuse(what: str) -> NoReturn:
    raise TierViolation(f"unit tier: {what}; {MOVE}")


def _is_loopback(address: Any) -> bool:
    host = address[0] if isinstance(address, tuple) else address
    if isinstance(host, bytes):
        host = host.decode("ascii", "replace")
    host = str(host)
    return host in LOOPBACK_HOSTS or host.startswith("127.")


def _guarded_connect(original: Callable[..., Any]) -> Callable[..., Any]:
    def connect(self: socket.socket, address: Any) -> Any:
        if self.family == socket.AF_UNIX:
            _refuse(f"connects to the Unix socket {address!r}")
        if not _is_loopback(address):
            _refuse(f"connects to {address!r}, which is not loopback")
        return original(self, address)

    return connect


def _guarded_getaddrinfo(original: Callable[..., Any]) -> Callable[..., Any]:
    def getaddrinfo(host: Any, *args: Any, **kwargs: Any) -> Any:
        if host is not None and not _is_loopback(host):
            _refuse(f"resolves the host name {host!r}")
        return original(host, *args, **kwargs)

    return getaddrinfo


def _no(what: str) -> Callable[..., NoReturn]:
    def refused(*args: Any, **kwargs: Any) -> NoReturn:
        _refuse(what)

    return refused


@contextmanager
def unit_guard() -> Iterator[None]:
    """While active: no process, no socket beyond loopback, no host name lookup, no model training.

    Processes: ``subprocess`` (and what is built on it), ``os.fork`` / ``posix_spawn`` / ``system`` /
    ``exec*``, and the ``fork_exec`` that ``multiprocessing`` spawns with. Training: ``fit`` of the
    scikit-learn classifiers and pipelines ``training`` builds (a vectorizer alone may still be fitted
    on a few strings: that is text analysis, not training). Raises :class:`TierViolation`.
    """
    import _posixsubprocess

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(subprocess.Popen, "_execute_child", _no("starts a process (subprocess)"))
        mp.setattr(_posixsubprocess, "fork_exec", _no("starts a process (multiprocessing)"))
        for name in ("fork", "forkpty", "posix_spawn", "posix_spawnp", "system", "execv", "execve", "execvp"):
            if hasattr(os, name):
                mp.setattr(os, name, _no(f"starts a process (os.{name})"))
        for method in ("connect", "connect_ex"):
            mp.setattr(socket.socket, method, _guarded_connect(getattr(socket.socket, method)))
        mp.setattr(socket, "getaddrinfo", _guarded_getaddrinfo(socket.getaddrinfo))
        _forbid_training(mp)
        yield


def _forbid_training(mp: pytest.MonkeyPatch) -> None:
    from sklearn.calibration import CalibratedClassifierCV
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import FeatureUnion, Pipeline
    from sklearn.svm import SVC, LinearSVC

    for cls in (Pipeline, FeatureUnion, LinearSVC, SVC, LogisticRegression, CalibratedClassifierCV):
        for method in ("fit", "fit_transform"):
            if method in vars(cls):
                mp.setattr(cls, method, _no(f"trains a model ({cls.__name__}.{method})"))
