"""template.yaml for S3 batch scoring: secure bucket, narrow triggers, least privilege, a DLQ."""

from __future__ import annotations

from typing import Any

from tests.cfn import load_template
from textclf.settings import Settings
from textclf_batch.formats import SUFFIXES

BUCKET_ARN = "arn:${AWS::Partition}:s3:::${AWS::StackName}-data-${AWS::AccountId}-${AWS::Region}"


def resources() -> dict[str, Any]:
    res: dict[str, Any] = load_template()["Resources"]
    return res


def batch_props() -> dict[str, Any]:
    props: dict[str, Any] = resources()["BatchFunction"]["Properties"]
    return props


def test_data_bucket_is_encrypted_private_and_versioned() -> None:
    props = resources()["DataBucket"]["Properties"]
    assert props["BucketName"] == {"Sub": "${AWS::StackName}-data-${AWS::AccountId}-${AWS::Region}"}
    [rule] = props["BucketEncryption"]["ServerSideEncryptionConfiguration"]
    assert rule["ServerSideEncryptionByDefault"]["SSEAlgorithm"] in ("AES256", "aws:kms")
    assert all(props["PublicAccessBlockConfiguration"].values())
    assert len(props["PublicAccessBlockConfiguration"]) == 4
    assert props["VersioningConfiguration"] == {"Status": "Enabled"}
    lifecycle = props["LifecycleConfiguration"]["Rules"]
    assert any("AbortIncompleteMultipartUpload" in r for r in lifecycle)


def test_bucket_policy_refuses_requests_without_tls() -> None:
    policy = resources()["DataBucketPolicy"]["Properties"]
    assert policy["Bucket"] == {"Ref": "DataBucket"}
    [statement] = policy["PolicyDocument"]["Statement"]
    assert statement["Effect"] == "Deny" and statement["Principal"] == "*"
    assert statement["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
    assert statement["Resource"] == [{"GetAtt": "DataBucket.Arn"}, {"Sub": "${DataBucket.Arn}/*"}]


def test_batch_function_is_triggered_only_by_incoming_files_it_can_read() -> None:
    props = batch_props()
    assert props["Handler"] == "textclf_batch.main.handler" and props["CodeUri"] == "functions/batch/"
    settings = Settings()
    env = props["Environment"]["Variables"]
    assert env["INPUT_PREFIX"] == settings.input_prefix == "incoming/"
    assert env["OUTPUT_PREFIX"] == settings.output_prefix == "predictions/"
    suffixes = set()
    for event in props["Events"].values():
        assert event["Type"] == "S3"
        assert event["Properties"]["Bucket"] == {"Ref": "DataBucket"}
        assert event["Properties"]["Events"] == "s3:ObjectCreated:*"
        rules = {r["Name"]: r["Value"] for r in event["Properties"]["Filter"]["S3Key"]["Rules"]}
        assert rules["prefix"] == env["INPUT_PREFIX"]  # outputs (predictions/) can never trigger it
        suffixes.add(rules["suffix"])
    assert suffixes == set(SUFFIXES)


def test_batch_function_policy_is_least_privilege() -> None:
    props = batch_props()
    [policy] = props["Policies"]
    grants = {
        (
            tuple(s["Action"]) if isinstance(s["Action"], list) else (s["Action"],),
            s["Resource"].get("Sub") or f"Ref:{s['Resource']['Ref']}",
        )
        for s in policy["Statement"]
        if s["Effect"] == "Allow"
    }
    assert grants == {
        (("s3:GetObject", "s3:GetObjectVersion"), f"{BUCKET_ARN}/incoming/*"),
        (("s3:ListBucket",), BUCKET_ARN),
        (
            ("s3:PutObject", "s3:AbortMultipartUpload", "s3:DeleteObject", "s3:DeleteObjectVersion"),
            f"{BUCKET_ARN}/predictions/*",
        ),
        (("states:StartExecution",), "Ref:BatchFanoutStateMachine"),  # big files: textclf_fanout.route
    }
    assert len(policy["Statement"]) == 4
    [listing] = [s for s in policy["Statement"] if s["Action"] == "s3:ListBucket"]
    # listing only under the two prefixes: 404 (not 403) for a missing input, outputs found by listing
    assert listing["Condition"] == {"StringLike": {"s3:prefix": ["incoming/*", "predictions/*"]}}


def test_failed_files_go_to_an_encrypted_dead_letter_queue_after_retries() -> None:
    props = batch_props()
    config = props["EventInvokeConfig"]
    assert 1 <= config["MaximumRetryAttempts"] <= 2
    failure = config["DestinationConfig"]["OnFailure"]
    assert failure["Type"] == "SQS"
    assert failure["Destination"] == {"GetAtt": "BatchFailureQueue.Arn"}
    queue = resources()["BatchFailureQueue"]["Properties"]
    assert queue.get("SqsManagedSseEnabled") or queue.get("KmsMasterKeyId")


def test_batch_function_may_run_up_to_the_lambda_limit() -> None:
    template = load_template()
    props = batch_props()
    assert props["Timeout"] == 900
    memory = template["Parameters"]["BatchMemorySize"]
    assert props["MemorySize"] == {"Ref": "BatchMemorySize"}
    assert memory["MinValue"] >= 1024 and memory["MaxValue"] == 10240
