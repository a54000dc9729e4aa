"""``sam local start-lambda`` on a free 127.0.0.1 port, called through boto3's Lambda client."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from tests.e2e.checks import BAD_REQUESTS, check_prediction, check_problem, proxy_result
from tests.e2e.samlocal import SamBuild, free_port
from tests.helpers import load_event, with_body

pytestmark = [pytest.mark.samlocal, pytest.mark.usefixtures("docker_required")]


@pytest.fixture(scope="module")
def lambda_client(sam_build: SamBuild) -> Iterator[Any]:
    port = free_port()
    with sam_build.serve("start-lambda", port):
        yield boto3.client(
            "lambda",
            endpoint_url=f"http://127.0.0.1:{port}",
            region_name="us-east-1",
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
            config=Config(retries={"max_attempts": 0}, read_timeout=120, connect_timeout=10),
        )


def invoke(client: Any, event: dict[str, Any]) -> dict[str, Any]:
    response = client.invoke(FunctionName="ApiFunction", Payload=json.dumps(event).encode("utf-8"))
    assert response["StatusCode"] == 200, response
    assert "FunctionError" not in response, response["Payload"].read()
    result: dict[str, Any] = json.loads(response["Payload"].read())
    return result


def test_predict_through_the_sdk(lambda_client: Any, sam_build: SamBuild) -> None:
    manifest = json.loads((sam_build.model_layer / "model" / "manifest.json").read_text(encoding="utf-8"))
    status, _, body = proxy_result(invoke(lambda_client, load_event("apigw-v1-predict.json")))
    assert status == 200, body
    check_prediction(json.loads(body), manifest["classes"])
    assert json.loads(body)["model_version"] == manifest["version"]


def test_health_through_the_sdk(lambda_client: Any) -> None:
    status, _, body = proxy_result(invoke(lambda_client, load_event("apigw-v2-health.json")))
    assert status == 200, body
    assert json.loads(body)["status"] == "ok"


@pytest.mark.parametrize(
    ("name", "event", "body", "b64", "ctype", "status"), BAD_REQUESTS, ids=[bad[0] for bad in BAD_REQUESTS]
)
def test_bad_input_gets_a_problem(
    lambda_client: Any, name: str, event: str, body: str, b64: bool, ctype: str, status: int
) -> None:
    result = invoke(lambda_client, with_body(event, body, base64=b64, content_type=ctype))
    check_problem(*proxy_result(result), expected=status)


def test_unknown_function_is_an_sdk_error(lambda_client: Any) -> None:
    with pytest.raises(ClientError) as caught:
        lambda_client.invoke(FunctionName="NoSuchFunction", Payload=b"{}")
    assert caught.value.response["ResponseMetadata"]["HTTPStatusCode"] == 404


@pytest.mark.parametrize(
    ("function", "error_type"),
    [
        # Mangum cannot tell which event source {} comes from: it raises in the handler
        ("ApiFunction", "RuntimeError"),
        # Powertools' S3Event has no Records: the handler raises before any S3 call
        ("BatchFunction", "KeyError"),
    ],
)
def test_a_raising_function_is_a_function_error(lambda_client: Any, function: str, error_type: str) -> None:
    """As on AWS: 200 with ``FunctionError: Unhandled`` and the error document as the payload."""
    response = lambda_client.invoke(FunctionName=function, Payload=b"{}")
    assert response["StatusCode"] == 200, response
    payload = json.loads(response["Payload"].read())
    assert response.get("FunctionError") == "Unhandled", payload
    assert payload["errorType"] == error_type, payload
    assert set(payload) <= {"errorMessage", "errorType", "stackTrace"}, payload
