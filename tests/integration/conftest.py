"""moto fixtures for the batch function: the data bucket as template.yaml defines it, and events."""

from __future__ import annotations

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

from tests.conftest import reset_caches
from tests.helpers import LambdaContext, load_event, load_function
from tests.unit.test_template import load_template

STACK = {"AWS::StackName": "textclf-test", "AWS::AccountId": "123456789012", "AWS::Region": "us-east-1"}
STACK["AWS::Partition"] = "aws"


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
            "Rules": [
                {"ID": r["Id"], "Filter": {"Prefix": ""}, **{k: v for k, v in r.items() if k != "Id"}}
                for r in props["LifecycleConfiguration"]["Rules"]
            ]
        },
    )
    # DataBucketPolicy (deny without TLS) is not applied: moto ignores IAM conditions, so it would
    # deny every request. tests/unit/test_batch_template.py checks that policy instead.
    return name


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
    """A fresh moto account with the data bucket, and ``functions/batch/app.py`` imported inside it.

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


READS = {"GetObject"}
WRITES = {
    "PutObject",
    "CreateMultipartUpload",
    "UploadPart",
    "CompleteMultipartUpload",
    "AbortMultipartUpload",
}


def check_calls_within_policy(calls: list[tuple[str, dict[str, Any]]]) -> None:
    for operation, params in calls:
        key = params.get("Key", "")
        if operation in READS:
            assert key.startswith("incoming/"), (operation, key)
        elif operation in WRITES:
            assert key.startswith("predictions/"), (operation, key)
        else:
            raise AssertionError(f"the batch function called {operation}, which its policy does not allow")
