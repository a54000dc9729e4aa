"""SnapStart: warm the whole request path before Lambda takes the snapshot.

With SnapStart, Lambda runs the init phase once per published version, snapshots
the memory, and resumes new execution environments from it. Anything done before
the snapshot (model loaded, first-request costs of FastAPI/pydantic paid, numpy
code paths touched) is free for every later cold start. Runtime hooks come from
``snapshot_restore_py``, which the Lambda Python runtime ships; elsewhere (tests,
``sam local``, uvicorn) registering is a no-op.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from typing import Any

logger = logging.getLogger(__name__)

WARM_TEXT = "warm-up request before the SnapStart snapshot"


class _WarmContext:
    function_name = "snapstart-warm-up"
    function_version = "$LATEST"
    memory_limit_in_mb = 0
    invoked_function_arn = "arn:aws:lambda:us-east-1:000000000000:function:snapstart-warm-up"
    aws_request_id = "snapstart-warm-up"

    def get_remaining_time_in_millis(self) -> int:
        return 60_000


def api_event(
    method: str, path: str, body: Any = None, request_id: str = "snapstart-warm-up"
) -> dict[str, Any]:
    """An API Gateway HTTP API (payload 2.0) event for ``method path`` with a JSON ``body``,
    shaped as API Gateway sends it to the function."""
    return {
        "version": "2.0",
        "routeKey": f"{method} {path}",
        "rawPath": path,
        "rawQueryString": "",
        "headers": {"content-type": "application/json", "host": "localhost"},
        "requestContext": {
            "http": {"method": method, "path": path, "protocol": "HTTP/1.1", "sourceIp": "127.0.0.1"},
            "stage": "$default",
            "requestId": request_id,
            "routeKey": f"{method} {path}",
        },
        "body": None if body is None else json.dumps(body),
        "isBase64Encoded": False,
    }


def warm_api(handler: Callable[[dict[str, Any], Any], dict[str, Any]]) -> None:
    """Send one health check and one prediction through the Lambda handler."""
    context = _WarmContext()
    for event in (api_event("GET", "/health"), api_event("POST", "/predict", {"text": WARM_TEXT})):
        response = handler(event, context)
        if response.get("statusCode") != 200:
            raise RuntimeError(f"warm-up {event['routeKey']} answered {response.get('statusCode')}")


def register_before_snapshot(hook: Callable[[], None]) -> bool:
    """Register ``hook`` to run before the snapshot; False where there is no SnapStart runtime."""
    try:
        import snapshot_restore_py
    except ImportError:
        return False
    snapshot_restore_py.register_before_snapshot(hook)
    return True
