"""scripts/sam_local.py: the pure parts behind the Makefile's sam-local targets."""

from __future__ import annotations

import json
import random
import string
from typing import Any

import pytest

from scripts import sam_local
from scripts.sam_local_template import load_template as cfn_template
from scripts.sam_local_template import resolve_conditions
from tests.cfn import load_template, long_form
from tests.helpers import ROOT

# ------------------------------------------------------------- environment ----


def test_every_declared_variable_is_kept_from_sam() -> None:
    """MODEL_DIR / MAX_TEXT_CHARS exported in the caller's shell never reach sam (it would pass them on)."""
    template = long_form(load_template())
    declared = sam_local.declared_variables(template)
    assert {"MODEL_DIR", "MAX_TEXT_CHARS", "POWERTOOLS_SERVICE_NAME"} <= declared["ApiFunction"]
    assert {"TEXT_COLUMN", "INPUT_PREFIX"} <= declared["BatchFunction"]
    shell = {"MODEL_DIR": "layers/model/model", "MAX_TEXT_CHARS": "10", "HOME": "/root", "PATH": "/bin"}
    env, removed = sam_local.clean_environment(shell, set().union(*declared.values()))
    assert env == {"HOME": "/root", "PATH": "/bin"}
    assert removed == ["MAX_TEXT_CHARS", "MODEL_DIR"]


# ----------------------------------------------------- parameter overrides ----


def test_command_line_overrides_merge_with_samconfig() -> None:
    """LogLevel=DEBUG on the command line keeps samconfig's BatchMemorySize=2048 (sam would drop it)."""
    for command in sam_local.SAMCONFIG_SECTIONS:
        merged = sam_local.merged_overrides(command, "joblib", "LogLevel=DEBUG")
        assert merged == {"BatchMemorySize": "2048", "ModelBackend": "joblib", "LogLevel": "DEBUG"}
    # the caller wins over samconfig and over the model's backend
    merged = sam_local.merged_overrides("invoke", "lean", "BatchMemorySize=4096 ModelBackend=joblib")
    assert merged == {"BatchMemorySize": "4096", "ModelBackend": "joblib"}


def generated_overrides(seed: int) -> dict[str, str]:
    """Parameter names and values of every kind: empty, spaces, '=', unicode, shell characters."""
    rng = random.Random(seed)
    alphabet = string.ascii_letters + string.digits + " =:/,.-_$'é€*;&|"
    pairs = {}
    for _ in range(rng.randint(0, 6)):
        name = rng.choice(string.ascii_uppercase) + "".join(
            rng.choices(string.ascii_letters, k=rng.randint(0, 12))
        )
        pairs[name] = "".join(rng.choices(alphabet, k=rng.randint(0, 16))).strip()
    return pairs


@pytest.mark.parametrize("seed", range(200))
def test_overrides_round_trip(seed: int) -> None:
    """What format_overrides writes, parse_overrides (SAM's shorthand) reads back unchanged."""
    pairs = generated_overrides(seed)
    if any("'" in v for v in pairs.values()):
        pairs = {k: v.replace("'", "") for k, v in pairs.items()}
    assert sam_local.parse_overrides(sam_local.format_overrides(pairs)) == pairs


@pytest.mark.parametrize("bad", ["LogLevel", "=x", "A=1 nonsense"])
def test_malformed_override_is_a_usage_error(bad: str) -> None:
    with pytest.raises(sam_local.UsageError, match="is not Name=Value"):
        sam_local.parse_overrides(bad)


# ---------------------------------------------------------- error documents ----

API_RESULT = {"statusCode": 200, "headers": {}, "body": "{}", "isBase64Encoded": False}


@pytest.mark.parametrize(
    ("stdout", "is_error"),
    [
        (json.dumps(API_RESULT), False),
        ('{"errorMessage": "boom", "errorType": "RuntimeError", "stackTrace": []}', True),
        (
            '{"errorMessage": "x", "errorType": "Runtime.ImportModuleError",'
            ' "requestId": "", "stackTrace": []}',
            True,
        ),
        ('{"errorType": "Sandbox.Timedout", "errorMessage": "Task timed out after 15.00 seconds"}', True),
        ("log line\n" + json.dumps({"results": []}) + "\n", False),
        ('"a string answer"', False),
        ("", False),
        ("not json at all", False),
    ],
)
def test_error_document_is_recognised(stdout: str, is_error: bool) -> None:
    assert (sam_local.error_document(stdout) is not None) is is_error


def test_batch_function_without_s3_points_to_local_s3(
    tmp_path: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    built = tmp_path / "template.yaml"
    built.write_text(json.dumps(long_form(load_template())), encoding="utf-8")
    event = tmp_path / "event.json"
    event.write_text("{}", encoding="utf-8")
    code = sam_local.main(["invoke", "BatchFunction", "--event", str(event), "--template", str(built)])
    assert code == 2
    err = capsys.readouterr().err
    assert "make local-s3 FILE=" in err and "Traceback" not in err


def test_s3_event_names_the_uploaded_object() -> None:
    event = sam_local.s3_put_event("bucket-1", "incoming/my file ü.csv", 42, '"abc"', "v1")
    s3 = event["Records"][0]["s3"]
    assert s3["bucket"]["name"] == "bucket-1"
    assert s3["object"] == {**s3["object"], "key": "incoming/my+file+%C3%BC.csv", "size": 42, "eTag": "abc"}
    assert s3["object"]["versionId"] == "v1"
    assert (
        "versionId"
        not in sam_local.s3_put_event("b", "incoming/a.csv", 1, "e", None)["Records"][0]["s3"]["object"]
    )


# ---------------------------------------------------- local build template ----


@pytest.mark.parametrize(("backend", "sklearn"), [("lean", False), ("joblib", True)])
def test_local_build_skips_the_layer_the_backend_does_not_attach(backend: str, sklearn: bool) -> None:
    template = resolve_conditions(long_form(load_template()), {"ModelBackend": backend})
    assert ("SklearnLayer" in template["Resources"]) is sklearn
    layers = [layer["Ref"] for layer in template["Globals"]["Function"]["Layers"]]
    assert ("SklearnLayer" in layers) is sklearn
    assert "Outputs" not in template
    assert "Fn::If" not in json.dumps(template)


@pytest.mark.parametrize(
    ("origins", "cors"),
    [("", False), ("https://app.example", True), ("https://a.example,https://b.example", True)],
)
def test_cors_follows_the_list_parameter_in_the_local_template(origins: str, cors: bool) -> None:
    """HasCors joins a CommaDelimitedList: with no origins the local API has no CORS configuration."""
    overrides = {"ModelBackend": "lean", "CorsAllowOrigins": origins}
    # read as `make invoke` reads it (scripts/sam_local_template.py's loader: every short-form tag)
    template = resolve_conditions(cfn_template(ROOT / "template.yaml"), overrides)
    [api] = [r for r in template["Resources"].values() if r["Type"] == "AWS::Serverless::HttpApi"]
    assert ("x-amazon-apigateway-cors" in json.dumps(api)) is cors
