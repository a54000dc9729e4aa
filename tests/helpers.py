"""Helpers shared by the test tiers: events and a Lambda context (from ``scripts.lambda_context``, which
the benchmarks share), loading a function, reading responses."""

from __future__ import annotations

import csv
import importlib
import importlib.util
import json
import os
import struct
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from scripts.lambda_context import EVENTS, LambdaContext, load_event

__all__ = [
    "BUNDLED_DATA",
    "EVENTS",
    "ROOT",
    "SHARED_DATASETS",
    "LambdaContext",
    "bundled_texts",
    "header",
    "load_event",
    "load_function",
    "response_json",
    "shared_dataset",
    "with_body",
]

ROOT = Path(__file__).resolve().parent.parent
BUNDLED_DATA = ROOT / "training" / "data" / "support_tickets.csv"
# ../shared/datasets beside the checkout; SHARED_DATASETS points elsewhere (a git worktree, say)
SHARED_DATASETS = Path(os.environ.get("SHARED_DATASETS") or ROOT.parent / "shared" / "datasets")


def bundled_texts() -> list[str]:
    """The ``text`` column of the bundled dataset, in file order."""
    with BUNDLED_DATA.open(encoding="utf-8", newline="") as fh:
        return [row["text"] for row in csv.DictReader(fh)]


def shared_dataset(name: str) -> Path:
    """A dataset from ../shared/datasets, or a skip that says why (the quality tier's data)."""
    path = SHARED_DATASETS / name
    if not path.is_file():
        pytest.skip(f"{path} not found: the shared datasets are not checked out beside the project")
    return path


def with_body(name: str, body: str | None, *, base64: bool = False, **headers: str) -> dict[str, Any]:
    """An API Gateway event from ``name`` carrying ``body`` (already serialised)."""
    event = load_event(name, body=body, isBase64Encoded=base64)
    for key, value in headers.items():
        key = key.replace("_", "-")
        event["headers"][key] = value
        if "multiValueHeaders" in event:
            event["multiValueHeaders"][key] = [value]
    return event


# function folder -> its handler module, imported by package name (pytest's pythonpath has the folder)
FUNCTION_MODULES = {
    "api": "textclf_api.main",
    "batch": "textclf_batch.main",
    "pre_traffic": "textclf_hook.main",
}


def load_function(name: str) -> ModuleType:
    """Import the handler module of ``functions/<name>/`` afresh (it reads the environment at
    import): its package's ``main`` module, or a top-level ``app.py`` as module ``<name>_app``."""
    if name in FUNCTION_MODULES:
        sys.modules.pop(FUNCTION_MODULES[name], None)
        return importlib.import_module(FUNCTION_MODULES[name])
    path = ROOT / "functions" / name / "app.py"
    module_name = f"{name}_app"
    sys.modules.pop(module_name, None)
    spec = importlib.util.spec_from_file_location(module_name, path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    spec.loader.exec_module(module)
    return module


def response_json(response: dict[str, Any]) -> Any:
    """The decoded JSON body of a Lambda proxy response."""
    assert not response.get("isBase64Encoded"), response
    return json.loads(response["body"])


def header(response: dict[str, Any], name: str) -> str | None:
    headers = {k.lower(): v for k, v in (response.get("headers") or {}).items()}
    return headers.get(name.lower())


def pyc_flags(path: Path) -> int:
    """The PEP 552 flags word of a .pyc: 0b01 = hash-based, unchecked (source never stat-ed)."""
    flags: int = struct.unpack("<I", path.read_bytes()[4:8])[0]
    return flags
