"""moto fixtures for the batch function: the data bucket as template.yaml defines it, and events."""

from __future__ import annotations

import fnmatch
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any
from urllib.parse import quote_plus

import boto3
import pytest
from moto import mock_aws

from tests.cfn import load_template
from tests.conftest import reset_caches
from tests.helpers import LambdaContext, load_event, load_function

STACK = {"AWS::StackName": "textclf-test", "AWS::AccountId": "123456789012", "AWS::Region": "us-east-1"}
STACK["AWS::Partition"] = "aws"
# what !Ref of the fan-out state machine gives (BatchFunction may start it; tests/integration/test_fanout.py)
STACK["BatchFanoutStateMachine"] = (
    "arn:aws:states:us-east-1:123456789012:stateMachine:textclf-test-batch-fanout"
)


def resolve(value: Any, names: dict[str, str]) -> Any:
    """Resolve the !Sub / !Ref / !GetAtt forms the data bucket uses, recursively."""
    if isinstance(value, dict) and len(value) == 1:
        (tag, arg), *_ = value.items()
        if tag == "Sub":
            return re.sub(r"\$\{([^}]+)\}", lambda m: names[m.group(1)], arg)
        if tag in ("Ref", "GetAtt"):
            return names[arg]
    if isinstance(value, dict):
        return {k: resolve(v, names) for k, v in value.items()}
    if isinstance(value, list):
        return [resolve(v, names) for v in value]
    return value


def create_data_bucket(s3: Any) -> str:
    """Create the bucket with the settings template.yaml gives ``DataBucket``; returns its name."""
    resources = load_template()["Resources"]
    props = resources["DataBucket"]["Properties"]
    name = resolve(props["BucketName"], STACK)
    s3.create_bucket(Bucket=name)
    s3.put_bucket_versioning(Bucket=name, VersioningConfiguration=props["VersioningConfiguration"])
    # CloudFormation and the S3 API name one field differently
    rules = [
        {"ApplyServerSideEncryptionByDefault": r["ServerSideEncryptionByDefault"], **_without(r)}
        for r in props["BucketEncryption"]["ServerSideEncryptionConfiguration"]
    ]
    s3.put_bucket_encryption(Bucket=name, ServerSideEncryptionConfiguration={"Rules": rules})
    s3.put_public_access_block(
        Bucket=name, PublicAccessBlockConfiguration=props["PublicAccessBlockConfiguration"]
    )
    s3.put_bucket_lifecycle_configuration(
        Bucket=name,
        LifecycleConfiguration={
            "Rules": [_lifecycle_rule(r) for r in props["LifecycleConfiguration"]["Rules"]]
        },
    )
    # DataBucketPolicy (deny without TLS) is not applied: moto ignores IAM conditions, so it would
    # deny every request. tests/unit/test_batch_template.py checks that policy instead.
    return name


def _lifecycle_rule(rule: dict[str, Any]) -> dict[str, Any]:
    """A CloudFormation lifecycle rule in the S3 API's shape (``Prefix`` -> ``Filter``,
    ``ExpirationInDays`` -> ``Expiration``)."""
    out: dict[str, Any] = {"ID": rule["Id"], "Filter": {"Prefix": rule.get("Prefix", "")}}
    for name, value in rule.items():
        if name == "ExpirationInDays":
            out["Expiration"] = {"Days": value}
        elif name not in ("Id", "Prefix"):
            out[name] = value
    return out


def _without(rule: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in rule.items() if k != "ServerSideEncryptionByDefault"}


@dataclass
class Batch:
    """The batch function inside moto, with helpers to upload a file and invoke it."""

    s3: Any
    bucket: str
    module: ModuleType = field(init=False)
    calls: list[tuple[str, dict[str, Any]]] = field(default_factory=list)

    def load(self) -> None:
        """Import the function afresh (as Lambda's init does) and record its S3 calls."""
        self.module = load_function("batch")

        def record(params: dict[str, Any], model: Any, **_: Any) -> None:
            self.calls.append((model.name, dict(params)))

        self.module.s3.meta.events.register("provide-client-params.s3.*", record)

    def put(self, key: str, body: bytes) -> dict[str, Any]:
        response: dict[str, Any] = self.s3.put_object(Bucket=self.bucket, Key=key, Body=body)
        return response

    def event(self, key: str, put: dict[str, Any], size: int) -> dict[str, Any]:
        """An S3 put event (from ``sam local generate-event s3 put``) for the uploaded object."""
        event = load_event("s3-put.json")
        s3 = event["Records"][0]["s3"]
        s3["bucket"]["name"] = self.bucket
        s3["bucket"]["arn"] = f"arn:aws:s3:::{self.bucket}"
        s3["object"].update(
            key=quote_plus(key, safe="/"),  # S3 URL-encodes keys in events
            size=size,
            eTag=put["ETag"].strip('"'),
            versionId=put["VersionId"],
        )
        return event

    def invoke(self, event: dict[str, Any], context: LambdaContext | None = None) -> Any:
        return self.module.handler(event, context or LambdaContext(function_name="BatchFunction"))

    def upload_and_invoke(self, key: str, body: bytes) -> Any:
        return self.invoke(self.event(key, self.put(key, body), len(body)))

    def read(self, key: str) -> bytes:
        body: bytes = self.s3.get_object(Bucket=self.bucket, Key=key)["Body"].read()
        return body

    def keys(self, prefix: str = "") -> list[str]:
        pages = self.s3.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=prefix)
        return sorted(obj["Key"] for page in pages for obj in page.get("Contents", []))

    def summary(self, key: str) -> dict[str, Any]:
        out: dict[str, Any] = json.loads(self.read(key))
        return out

    def errors(self, key: str) -> list[dict[str, Any]]:
        return [json.loads(line) for line in self.read(key).decode().splitlines()]


@pytest.fixture(scope="module")
def batch_env(model_dir: Path) -> Iterator[pytest.MonkeyPatch]:
    """MODEL_DIR (and nothing else of ours) set for the batch function, the model loaded once."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("MODEL_DIR", str(model_dir))
        reset_caches()
        yield mp
    reset_caches()


@pytest.fixture
def batch(batch_env: pytest.MonkeyPatch) -> Iterator[Batch]:
    """A fresh moto account with the data bucket, and the batch handler (``textclf_batch.main``)
    imported inside it.

    Every S3 call the function makes is recorded; after the test, the calls are checked
    against the function's IAM policy (read ``incoming/*``, write ``predictions/*``).
    """
    with mock_aws():
        s3 = boto3.client("s3", region_name="us-east-1")
        bucket = create_data_bucket(s3)
        state = Batch(s3, bucket)
        state.load()
        yield state
        check_calls_within_policy(state.calls)


def batch_policy() -> list[dict[str, Any]]:
    """The Allow statements of ``BatchFunction``'s inline policy in template.yaml, resolved."""
    function = load_template()["Resources"]["BatchFunction"]["Properties"]
    statements: list[dict[str, Any]] = []
    for policy in function["Policies"]:
        statements += resolve(policy["Statement"], STACK)
    return statements


def iam_request(operation: str, params: dict[str, Any], bucket_arn: str) -> tuple[str, str, dict[str, str]]:
    """(IAM action, resource ARN, condition keys) S3 authorises an SDK call with."""
    key = params.get("Key", "")
    versioned = "VersionId" in params
    actions = {
        "GetObject": "s3:GetObjectVersion" if versioned else "s3:GetObject",
        "HeadObject": "s3:GetObjectVersion" if versioned else "s3:GetObject",
        "PutObject": "s3:PutObject",
        "CreateMultipartUpload": "s3:PutObject",
        "UploadPart": "s3:PutObject",
        "CompleteMultipartUpload": "s3:PutObject",
        "AbortMultipartUpload": "s3:AbortMultipartUpload",
        "DeleteObject": "s3:DeleteObjectVersion" if versioned else "s3:DeleteObject",
        "ListObjectsV2": "s3:ListBucket",
        "ListObjects": "s3:ListBucket",
    }
    if operation not in actions:
        raise AssertionError(f"the batch function called {operation}, which the policy check does not know")
    if actions[operation] == "s3:ListBucket":
        return "s3:ListBucket", bucket_arn, {"s3:prefix": params.get("Prefix", "")}
    return actions[operation], f"{bucket_arn}/{key}", {}


def _like(pattern: str, value: str) -> bool:
    return fnmatch.fnmatchcase(value, pattern.replace("[", "[[]"))


def allowed(statements: list[dict[str, Any]], action: str, resource: str, context: dict[str, str]) -> bool:
    """IAM evaluation for Allow statements with wildcards and StringLike conditions."""
    for statement in statements:
        actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
        resources = (
            statement["Resource"] if isinstance(statement["Resource"], list) else [statement["Resource"]]
        )
        if statement["Effect"] != "Allow" or not any(_like(a, action) for a in actions):
            continue
        if not any(_like(r, resource) for r in resources):
            continue
        ok = True
        for operator, conditions in statement.get("Condition", {}).items():
            assert operator == "StringLike", operator
            for name, patterns in conditions.items():
                patterns = patterns if isinstance(patterns, list) else [patterns]
                ok = ok and name in context and any(_like(p, context[name]) for p in patterns)
        if ok:
            return True
    return False


def check_calls_within_policy(calls: list[tuple[str, dict[str, Any]]]) -> None:
    """Every recorded S3 call must be allowed by the function's IAM policy in template.yaml."""
    statements = batch_policy()
    for operation, params in calls:
        bucket_arn = f"arn:aws:s3:::{params['Bucket']}"
        action, resource, context = iam_request(operation, params, bucket_arn)
        assert allowed(statements, action, resource, context), (
            f"{operation} needs {action} on {resource} {context or ''}, "
            "which BatchFunction's policy does not grant"
        )
