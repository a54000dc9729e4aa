"""``sam local invoke ApiFunction`` with API Gateway events, in the Lambda image, with the built layers."""

from __future__ import annotations

import json

import pytest

from tests.e2e.checks import BAD_REQUESTS, check_prediction, check_problem, proxy_result
from tests.e2e.samlocal import SamBuild, docker
from tests.helpers import load_event, with_body

pytestmark = [pytest.mark.samlocal, pytest.mark.usefixtures("docker_required")]


def classes_of(sam_build: SamBuild) -> list[str]:
    manifest = json.loads((sam_build.model_layer / "model" / "manifest.json").read_text(encoding="utf-8"))
    return [str(c) for c in manifest["classes"]]


def test_predict_v2(sam_build: SamBuild) -> None:
    result, log = sam_build.invoke("ApiFunction", load_event("apigw-v2-predict.json"))
    status, headers, body = proxy_result(result)
    assert status == 200, body
    assert headers["content-type"] == "application/json"
    check_prediction(json.loads(body), classes_of(sam_build), label="billing")
    # the user's text is never logged by default
    assert "charged twice" not in log
    # the image SAM derived for this session is the one the session removes at the end
    assert docker("image", "inspect", sam_build.derived_image, check=False).returncode == 0, log


def test_predict_batch_v2(sam_build: SamBuild) -> None:
    texts = ["My parcel has not arrived after two weeks", "I cannot log in to my account"]
    event = with_body("apigw-v2-predict-batch.json", json.dumps({"texts": texts}))
    status, _, body = proxy_result(sam_build.invoke("ApiFunction", event)[0])
    assert status == 200, body
    answer = json.loads(body)
    assert len(answer["predictions"]) == 2
    for prediction in answer["predictions"]:
        check_prediction(prediction, classes_of(sam_build))
        assert prediction["model_version"] == answer["model_version"]
    assert [p["label"] for p in answer["predictions"]] == ["shipping", "account"]


def test_health_rest_api_v1(sam_build: SamBuild) -> None:
    status, _, body = proxy_result(sam_build.invoke("ApiFunction", load_event("apigw-v1-health.json"))[0])
    assert status == 200, body
    manifest = json.loads((sam_build.model_layer / "model" / "manifest.json").read_text(encoding="utf-8"))
    health = json.loads(body)
    assert health["status"] == "ok"
    assert health["model_version"] == manifest["version"]
    assert health["backend"] == sam_build.backend


@pytest.mark.parametrize(
    ("name", "event", "body", "b64", "ctype", "status"),
    BAD_REQUESTS[:2],  # each invoke starts a container; the rest run through start-api / start-lambda
    ids=[bad[0] for bad in BAD_REQUESTS[:2]],
)
def test_bad_input_gets_a_problem(
    sam_build: SamBuild, name: str, event: str, body: str, b64: bool, ctype: str, status: int
) -> None:
    result = sam_build.invoke("ApiFunction", with_body(event, body, base64=b64, content_type=ctype))[0]
    check_problem(*proxy_result(result), expected=status)
