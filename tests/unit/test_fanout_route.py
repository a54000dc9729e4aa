"""Routing in the batch function: which objects fan out, and the execution name that makes a
duplicate S3 event harmless."""

from __future__ import annotations

import re

from hypothesis import given
from hypothesis import strategies as st

from textclf.settings import Settings
from textclf_fanout.route import execution_name, should_fan_out

ARN = "arn:aws:states:us-east-1:123456789012:stateMachine:textclf-batch-fanout"


@given(
    bucket=st.text(min_size=3, max_size=63),
    key=st.text(max_size=1024),
    version=st.none() | st.text(max_size=40),
)
def test_execution_names_are_valid_and_fixed_by_bucket_key_and_version(
    bucket: str, key: str, version: str | None
) -> None:
    name = execution_name(bucket, key, version)
    assert re.fullmatch(r"[A-Za-z0-9_-]{1,80}", name)  # Step Functions: at most 80, no spaces or /:*...
    assert name == execution_name(bucket, key, version)
    assert name != execution_name(bucket, key, (version or "") + "x")
    assert name != execution_name(bucket, key + "x", version)


def test_only_big_uncompressed_objects_fan_out_and_only_with_a_state_machine() -> None:
    on = Settings(fanout_state_machine_arn=ARN, fanout_threshold_bytes=1000)
    assert should_fan_out("incoming/a.csv", 1001, on)
    assert should_fan_out("incoming/a.JSONL", 5000, on)
    assert not should_fan_out("incoming/a.csv", 1000, on)  # at the threshold: scored in one function
    assert not should_fan_out("incoming/a.csv.gz", 10**10, on)  # gzip cannot be split
    assert not should_fan_out("incoming/a.txt", 10**10, on)  # reported by the single-function path
    assert not should_fan_out("incoming/a.csv", None, on)
    assert not should_fan_out("incoming/a.csv", 10**10, Settings(fanout_threshold_bytes=1000))
    assert not should_fan_out(
        "incoming/a.csv", 10**10, Settings(fanout_state_machine_arn=ARN, fanout_threshold_bytes=0)
    )
