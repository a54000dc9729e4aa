"""What Lambda hands a handler, for running one outside Lambda: a context object and the recorded events.

Shared by the tests (through ``tests.helpers``) and the benchmarks, so ``bench/`` need not import
``tests/``. The events are the JSON files in ``tests/events/`` (``sam local generate-event`` output,
edited), read as data.
"""

from __future__ import annotations

import copy
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

EVENTS = Path(__file__).resolve().parent.parent / "tests" / "events"


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
        """Milliseconds left before the (pretend) timeout: always 300,000."""
        return 300_000


def load_event(name: str, **changes: Any) -> dict[str, Any]:
    """The event in ``tests/events/<name>`` (a fresh copy), with top-level keys replaced by ``changes``."""
    event: dict[str, Any] = json.loads((EVENTS / name).read_text(encoding="utf-8"))
    event = copy.deepcopy(event)
    event.update(changes)
    return event
