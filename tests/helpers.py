"""Helpers shared by the test levels: events, a Lambda context, loading a function."""

from __future__ import annotations

import copy
import csv
import importlib
import importlib.util
import json
import sys
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
EVENTS = ROOT / "tests" / "events"
BUNDLED_DATA = ROOT / "training" / "data" / "support_tickets.csv"
SHARED_DATASETS = ROOT.parent / "shared" / "datasets"


def bundled_texts() -> list[str]:
    """The ``text`` column of the bundled dataset, in file order."""
    with BUNDLED_DATA.open(encoding="utf-8", newline="") as fh:
        return [row["text"] for row in csv.DictReader(fh)]


def load_event(name: str, **changes: Any) -> dict[str, Any]:
    """An event from tests/events/, with top-level keys replaced by ``changes``."""
    event: dict[str, Any] = json.loads((EVENTS / name).read_text(encoding="utf-8"))
    event = copy.deepcopy(event)
    event.update(changes)
    return event


def with_body(name: str, body: str | None, *, base64: bool = False, **headers: str) -> dict[str, Any]:
    """An API Gateway event from ``name`` carrying ``body`` (already serialised)."""
    event = load_event(name, body=body, isBase64Encoded=base64)
    for key, value in headers.items():
        key = key.replace("_", "-")
        event["headers"][key] = value
        if "multiValueHeaders" in event:
            event["multiValueHeaders"][key] = [value]
    return event


@dataclass
class LambdaContext:
    """The attributes of the Lambda context object that Powertools and Mangum read."""

    function_name: str = "test-function"
    function_version: str = "$LATEST"
    memory_limit_in_mb: int = 1024
    invoked_function_arn: str = "arn:aws:lambda:us-east-1:123456789012:function:test-function"
    aws_request_id: str = "5c7b0b6e-0f7d-4c0e-9e55-6a0e2a1f6f0a"
    log_group_name: str = "/aws/lambda/test-function"
    log_stream_name: str = "2026/11/27/[$LATEST]abcdef"

    def get_remaining_time_in_millis(self) -> int:
        return 300_000


# functions whose handler is a module of their own package (on pytest's pythonpath), not ``app.py``
HANDLER_MODULES = {"batch": "textclf_batch.main"}


def load_function(name: str) -> ModuleType:
    """Import the handler module of ``functions/<name>`` afresh (as Lambda's init does): its
    package's module named in :data:`HANDLER_MODULES`, else ``app.py`` as module ``<name>_app``."""
    if name in HANDLER_MODULES:
        sys.modules.pop(HANDLER_MODULES[name], None)
        return importlib.import_module(HANDLER_MODULES[name])
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
