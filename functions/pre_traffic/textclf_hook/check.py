"""Safe rollouts: the pre-traffic check CodeDeploy runs before a new API version takes traffic.

The hook (:mod:`textclf_hook.main`) ships with the same model layer as the new
version, so it knows what that version must serve: the manifest's model version, and the
smoke set training wrote beside it (``smoke.json``: a few held-out texts per class and
the accuracy the model had on them). It invokes the new version (not the ``live`` alias,
which still serves the old one) with API Gateway events:

1. ``GET /health`` answers 200 with the manifest's ``model_version``;
2. the smoke texts, through ``POST /predict/batch``, are classified with an accuracy of
   at least the recorded one minus a tolerance.

Then it reports ``Succeeded`` or ``Failed`` to CodeDeploy
(``PutLifecycleEventHookExecutionStatus``); a failed version never takes traffic.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from textclf.errors import ModelMissingError, TextClfError
from textclf.manifest import read_manifest
from textclf.model import SERVING_HINT
from textclf.smoke import load_smoke_set


class RolloutError(TextClfError):
    """The new version could not be checked (an invoke failed, a bad answer)."""


@dataclass
class CheckResult:
    """What the pre-traffic check found; ``passed`` decides the deployment."""

    passed: bool
    reasons: list[str] = field(default_factory=list)
    model_version: str | None = None
    accuracy: float | None = None
    required_accuracy: float | None = None
    examples: int = 0

    def as_dict(self) -> dict[str, Any]:
        return {
            "passed": self.passed,
            "reasons": self.reasons,
            "model_version": self.model_version,
            "accuracy": self.accuracy,
            "required_accuracy": self.required_accuracy,
            "examples": self.examples,
        }


def hook_event(method: str, path: str, body: Any = None) -> dict[str, Any]:
    """The API Gateway HTTP API (payload 2.0) event the hook sends to the new version for
    ``method path`` with a JSON ``body``, shaped as API Gateway sends it (request id
    ``pre-traffic-hook``)."""
    return {
        "version": "2.0",
        "routeKey": f"{method} {path}",
        "rawPath": path,
        "rawQueryString": "",
        "headers": {"content-type": "application/json", "host": "localhost"},
        "requestContext": {
            "http": {"method": method, "path": path, "protocol": "HTTP/1.1", "sourceIp": "127.0.0.1"},
            "stage": "$default",
            "requestId": "pre-traffic-hook",
            "routeKey": f"{method} {path}",
        },
        "body": None if body is None else json.dumps(body),
        "isBase64Encoded": False,
    }


def invoke_api(lambda_client: Any, function_arn: str, event: dict[str, Any]) -> tuple[int, Any]:
    """Invoke ``function_arn`` with ``event``; its HTTP status and decoded JSON body."""
    response = lambda_client.invoke(
        FunctionName=function_arn, InvocationType="RequestResponse", Payload=json.dumps(event).encode()
    )
    payload = response["Payload"].read()
    if response.get("FunctionError"):
        raise RolloutError(f"{event['routeKey']}: the function failed ({response['FunctionError']})")
    try:
        answer = json.loads(payload)
        status = int(answer["statusCode"])
        body = json.loads(answer["body"]) if answer.get("body") else None
    except (ValueError, KeyError, TypeError) as exc:
        raise RolloutError(f"{event['routeKey']}: not an API Gateway response ({exc})") from None
    return status, body


def _batches(texts: Sequence[str], size: int) -> Iterator[Sequence[str]]:
    for start in range(0, len(texts), size):
        yield texts[start : start + size]


def pre_traffic_check(
    lambda_client: Any,
    function_arn: str,
    model_dir: Path,
    *,
    tolerance: float,
    max_batch_size: int,
    max_text_chars: int,
) -> CheckResult:
    """Check the version ``function_arn`` against the model in ``model_dir``; never raises."""
    result = CheckResult(passed=False)
    try:
        try:
            manifest = read_manifest(model_dir)
        except ModelMissingError as exc:  # the hook reads MODEL_DIR, as the API does
            raise exc.with_hint(SERVING_HINT) from None
        result.model_version = expected = manifest.version
        smoke = load_smoke_set(model_dir)
        status, health = invoke_api(lambda_client, function_arn, hook_event("GET", "/health"))
        if status != 200 or not isinstance(health, dict):
            result.reasons.append(f"GET /health answered {status}")
        elif health.get("model_version") != expected:
            result.reasons.append(
                f"GET /health reports model {health.get('model_version')}, expected {expected}"
            )
        examples = [e for e in smoke.examples if len(e.text) <= max_text_chars and e.text.strip()]
        predicted: list[str] = []
        for batch in _batches([e.text for e in examples], max_batch_size):
            status, body = invoke_api(
                lambda_client, function_arn, hook_event("POST", "/predict/batch", {"texts": list(batch)})
            )
            if status != 200 or not isinstance(body, dict):
                raise RolloutError(f"POST /predict/batch answered {status}")
            predicted.extend(str(p["label"]) for p in body["predictions"])
        if len(predicted) != len(examples) or not examples:
            raise RolloutError(f"{len(predicted)} predictions for {len(examples)} smoke texts")
        correct = sum(p == e.label for p, e in zip(predicted, examples, strict=True))
        result.examples = len(examples)
        result.accuracy = round(correct / len(examples), 6)
        result.required_accuracy = round(max(0.0, (smoke.accuracy or 0.0) - tolerance), 6)
        if result.accuracy < result.required_accuracy:
            result.reasons.append(
                f"smoke-set accuracy {result.accuracy:.3f} < {result.required_accuracy:.3f} "
                f"(recorded {smoke.accuracy:.3f} minus tolerance {tolerance:g}) on {len(examples)} texts"
            )
    except (RolloutError, TextClfError) as exc:
        result.reasons.append(str(exc))
    except Exception as exc:  # an SDK or network error: the check did not pass
        result.reasons.append(f"{type(exc).__name__}: {exc}")
    result.passed = not result.reasons
    return result


def report_to_codedeploy(codedeploy_client: Any, event: dict[str, Any], passed: bool) -> None:
    """Tell CodeDeploy whether the lifecycle hook ``event`` (its invocation payload) passed."""
    codedeploy_client.put_lifecycle_event_hook_execution_status(
        deploymentId=event["DeploymentId"],
        lifecycleEventHookExecutionId=event["LifecycleEventHookExecutionId"],
        status="Succeeded" if passed else "Failed",
    )
