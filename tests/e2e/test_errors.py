"""A function that fails under ``sam local start-api`` gets a 5xx, as behind API Gateway, never a 200.

Behind API Gateway, an init error or an unhandled error of the function is a 500/502 with a short
JSON message and no trace. Locally that only holds when the runtime in the image posts the error
document ``sam local`` recognises (scripts/local-image/bootstrap.py says why); with the document
awslambdaric writes by default the client gets a 200 whose body is the traceback.

One server covers both kinds: ApiFunction gets ``MAX_TEXT_CHARS=abc`` through ``--env-vars`` (its
settings refuse it at init), and a test-only function whose handler raises is routed at
``GET /e2e/raise`` on the same HTTP API (the healthy ApiFunction has no request that raises: it
answers every bad request with a 4xx problem document).
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import yaml

from tests.e2e.samlocal import SamBuild, free_port

pytestmark = [pytest.mark.samlocal, pytest.mark.usefixtures("docker_required")]

RAISING_HANDLER = """
def handler(event, context):
    raise RuntimeError("deliberate failure from the e2e raising function")
"""


def check_server_error(response: httpx.Response) -> None:
    """A 5xx with API Gateway's one-line JSON message: no traceback, not the error document."""
    assert 500 <= response.status_code < 600, (response.status_code, response.text[:500])
    assert set(response.json()) == {"message"}, response.text[:500]
    for leak in ("Traceback", 'File "', "stackTrace", "errorType", "deliberate", "MAX_TEXT_CHARS"):
        assert leak not in response.text, response.text[:500]


def with_raising_function(sam_build: SamBuild) -> SamBuild:
    """The session build plus ``E2eRaiseFunction`` (GET /e2e/raise), in a template of its own."""
    code = sam_build.build_dir / "E2eRaiseFunction"
    code.mkdir(exist_ok=True)
    (code / "app.py").write_text(RAISING_HANDLER, encoding="utf-8")
    template = yaml.safe_load(sam_build.template.read_text(encoding="utf-8"))
    template["Resources"]["E2eRaiseFunction"] = {
        "Type": "AWS::Serverless::Function",
        "Properties": {
            "CodeUri": "E2eRaiseFunction",
            "Handler": "app.handler",
            "Events": {
                "Raise": {
                    "Type": "HttpApi",
                    "Properties": {"ApiId": {"Ref": "HttpApi"}, "Path": "/e2e/raise", "Method": "GET"},
                }
            },
        },
    }
    path = sam_build.template.with_name("template.errors.yaml")
    path.write_text(yaml.safe_dump(template, sort_keys=False), encoding="utf-8")
    return dataclasses.replace(sam_build, template=path)


@pytest.fixture(scope="module")
def failing_api(
    sam_build: SamBuild, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[httpx.Client, Path]]:
    env_vars = tmp_path_factory.mktemp("env") / "env.json"
    env_vars.write_text(json.dumps({"ApiFunction": {"MAX_TEXT_CHARS": "abc"}}), encoding="utf-8")
    port = free_port()
    with with_raising_function(sam_build).serve("start-api", port, "--env-vars", str(env_vars)) as log:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=180) as client:
            yield client, log


@pytest.mark.parametrize(("method", "path"), [("GET", "/health"), ("POST", "/predict")])
def test_init_error_is_a_server_error(failing_api: tuple[httpx.Client, Path], method: str, path: str) -> None:
    client, log = failing_api
    check_server_error(client.request(method, path, json={"text": "my parcel is late"}))
    # the function failed for the reason given, and said so in its log (not to the client)
    assert "MAX_TEXT_CHARS" in log.read_text(errors="replace")


def test_handler_error_is_a_server_error(failing_api: tuple[httpx.Client, Path]) -> None:
    client, log = failing_api
    check_server_error(client.get("/e2e/raise"))
    assert "deliberate failure from the e2e raising function" in log.read_text(errors="replace")
