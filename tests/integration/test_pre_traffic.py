"""The pre-traffic hook through its real handler and the real boto3 Lambda and CodeDeploy
clients. moto runs neither Lambda invocations without Docker nor CodeDeploy lifecycle hooks,
so botocore's Stubber sits on the real clients and checks every request exactly; the Lambda
answers come from the real API handler serving the session's model (or a broken one)."""

from __future__ import annotations

import io
import json
from collections.abc import Callable, Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import boto3
import pytest
from botocore.response import StreamingBody
from botocore.stub import Stubber

from tests.conftest import reset_caches
from tests.helpers import LambdaContext, load_event, load_function
from textclf.smoke import SMOKE_FILE
from textclf_hook import check as rollout

pytestmark = pytest.mark.integration

VERSION_ARN = "arn:aws:lambda:us-east-1:123456789012:function:textclf-ApiFunction-AbC123:7"
ApiHandler = Callable[[dict[str, Any], Any], dict[str, Any]]


@pytest.fixture
def hook(model_dir: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[ModuleType]:
    monkeypatch.setenv("MODEL_DIR", str(model_dir))
    monkeypatch.setenv("TARGET_FUNCTION_ARN", VERSION_ARN)
    monkeypatch.setenv("SMOKE_TOLERANCE", "0.05")
    monkeypatch.setenv("MAX_BATCH_SIZE", "8")  # several batches, as a 77-class model would need
    reset_caches()
    module = load_function("pre_traffic")
    yield module
    reset_caches()


def _payload(answer: dict[str, Any]) -> StreamingBody:
    raw = json.dumps(answer).encode()
    return StreamingBody(io.BytesIO(raw), len(raw))


def expect_calls(
    hook: ModuleType, model_dir: Path, api: ApiHandler, status: str, *, function_error: bool = False
) -> tuple[Stubber, Stubber]:
    """Stub the hook's clients with the exact requests it must make; answers from ``api``."""
    lam = Stubber(hook.lambda_client)
    smoke = json.loads((model_dir / SMOKE_FILE).read_text())
    texts = [e["text"] for e in smoke["examples"]]
    events = [rollout.hook_event("GET", "/health")]
    events += [
        rollout.hook_event("POST", "/predict/batch", {"texts": texts[i : i + 8]})
        for i in range(0, len(texts), 8)
    ]
    for event in events:
        params = {
            "FunctionName": VERSION_ARN,
            "InvocationType": "RequestResponse",
            "Payload": json.dumps(event).encode(),
        }
        if function_error:
            answer = {
                "StatusCode": 200,
                "FunctionError": "Unhandled",
                "Payload": _payload({"errorMessage": "init failed"}),
            }
            lam.add_response("invoke", answer, params)
            break
        lam.add_response(
            "invoke", {"StatusCode": 200, "Payload": _payload(api(event, LambdaContext()))}, params
        )
    deploy = Stubber(hook.codedeploy)
    hook_event = load_event("codedeploy-pre-traffic.json")
    deploy.add_response(
        "put_lifecycle_event_hook_execution_status",
        {"lifecycleEventHookExecutionId": hook_event["LifecycleEventHookExecutionId"]},
        {
            "deploymentId": hook_event["DeploymentId"],
            "lifecycleEventHookExecutionId": hook_event["LifecycleEventHookExecutionId"],
            "status": status,
        },
    )
    lam.activate()
    deploy.activate()
    return lam, deploy


def run(hook: ModuleType) -> dict[str, Any]:
    result: dict[str, Any] = hook.handler(load_event("codedeploy-pre-traffic.json"), LambdaContext())
    return result


def test_training_ships_a_smoke_set_with_its_accuracy(model_dir: Path) -> None:
    smoke = json.loads((model_dir / SMOKE_FILE).read_text())
    manifest = json.loads((model_dir / "manifest.json").read_text())
    labels = [e["label"] for e in smoke["examples"]]
    assert set(labels) == set(manifest["classes"])
    assert all(labels.count(c) <= smoke["per_class"] for c in manifest["classes"])
    assert 0 < smoke["accuracy"] <= 1
    assert SMOKE_FILE in manifest["reports"]  # listed with its SHA-256, outside the model version


def test_a_good_version_passes_and_codedeploy_is_told(
    hook: ModuleType, model_dir: Path, api_module: ModuleType
) -> None:
    lam, deploy = expect_calls(hook, model_dir, api_module.handler, "Succeeded")
    result = run(hook)
    assert result["passed"], result
    assert result["model_version"] == api_module.predictor.version
    assert result["accuracy"] >= result["required_accuracy"]
    lam.assert_no_pending_responses()
    deploy.assert_no_pending_responses()


def test_a_version_that_misclassifies_never_takes_traffic(
    hook: ModuleType, model_dir: Path, api_module: ModuleType, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = api_module.predictor.predict

    def always_first_class(texts: list[str]) -> list[Any]:
        preds = real(texts)
        first = api_module.predictor.classes[0]
        return [{**p, "label": first} for p in preds]

    monkeypatch.setattr(api_module.predictor, "predict", always_first_class)
    lam, deploy = expect_calls(hook, model_dir, api_module.handler, "Failed")
    result = run(hook)
    assert not result["passed"]
    assert result["accuracy"] < result["required_accuracy"]
    assert "smoke-set accuracy" in result["reasons"][0]
    deploy.assert_no_pending_responses()


def test_a_version_serving_another_model_fails(
    hook: ModuleType, model_dir: Path, api_module: ModuleType, monkeypatch: pytest.MonkeyPatch
) -> None:
    # the layer says one model, the version serves another
    real = rollout.read_manifest
    monkeypatch.setattr(
        rollout, "read_manifest", lambda folder: real(folder).model_copy(update={"version": "0" * 16})
    )
    lam, deploy = expect_calls(hook, model_dir, api_module.handler, "Failed")
    result = run(hook)
    assert not result["passed"]
    assert any("expected" in reason for reason in result["reasons"]), result
    deploy.assert_no_pending_responses()


def test_a_version_that_crashes_fails(hook: ModuleType, model_dir: Path, api_module: ModuleType) -> None:
    lam, deploy = expect_calls(hook, model_dir, api_module.handler, "Failed", function_error=True)
    result = run(hook)
    assert not result["passed"] and "the function failed" in result["reasons"][0]
    deploy.assert_no_pending_responses()


def test_a_model_without_smoke_set_fails(
    hook: ModuleType, model_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    bare = tmp_path / "model"
    bare.mkdir()
    for item in model_dir.iterdir():
        if item.name != SMOKE_FILE and item.is_file():
            (bare / item.name).write_bytes(item.read_bytes())
    monkeypatch.setattr(hook, "settings", hook.settings.model_copy(update={"model_dir": bare}))  # frozen
    deploy = Stubber(hook.codedeploy)
    hook_event = load_event("codedeploy-pre-traffic.json")
    deploy.add_response(
        "put_lifecycle_event_hook_execution_status",
        {},
        {
            "deploymentId": hook_event["DeploymentId"],
            "lifecycleEventHookExecutionId": hook_event["LifecycleEventHookExecutionId"],
            "status": "Failed",
        },
    )
    with Stubber(hook.lambda_client), deploy:  # no invoke is expected: any would raise
        result = run(hook)
    assert not result["passed"] and "retrain" in result["reasons"][0]


def test_clients_are_the_real_boto3_ones(hook: ModuleType) -> None:
    assert type(hook.lambda_client).__name__ == "Lambda" and type(hook.codedeploy).__name__ == "CodeDeploy"
    assert hook.lambda_client.meta.region_name == boto3.session.Session().region_name


@pytest.mark.parametrize(
    ("layout", "what"), [("absent", "no such folder"), ("empty", "manifest.json is missing")]
)
def test_no_model_in_model_dir_fails_the_check_saying_what_to_do(
    tmp_path: Path, layout: str, what: str
) -> None:
    """The hook reads MODEL_DIR as the API does: the core's fact, with serving's advice (no AWS call made)."""
    folder = tmp_path / "model"
    if layout == "empty":
        folder.mkdir()
    lambda_client = boto3.client("lambda", region_name="us-east-1")
    with Stubber(lambda_client):  # no response queued: any invoke would fail the check differently
        result = rollout.pre_traffic_check(
            lambda_client, VERSION_ARN, folder, tolerance=0.05, max_batch_size=8, max_text_chars=5000
        )
    assert not result.passed
    assert result.reasons == [
        f"no model at {folder}: {what} (train one with `python -m training train` or set MODEL_DIR)"
    ]
