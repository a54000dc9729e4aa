"""The merge's multipart copy against moto's S3 (which enforces the 5 MiB minimum part size)."""

from __future__ import annotations

import os

import boto3
import pytest
from moto import mock_aws

from textclf_fanout.copy import MIN_PART, MultipartCopy

pytestmark = pytest.mark.integration


def test_outputs_bigger_and_smaller_than_a_part_are_joined_byte_for_byte() -> None:
    sizes = [MIN_PART + 17, 1000, 0, 2 * MIN_PART + 5, 3, MIN_PART - 1]
    with mock_aws():
        s3 = boto3.client("s3", region_name="us-east-1")
        s3.create_bucket(Bucket="fanout-copy")
        bodies = [os.urandom(n) for n in sizes]
        for i, body in enumerate(bodies):
            s3.put_object(Bucket="fanout-copy", Key=f"work/{i}", Body=body)
        operations: list[str] = []
        s3.meta.events.register(
            "provide-client-params.s3.*", lambda model, **_: operations.append(model.name)
        )
        copy = MultipartCopy(
            s3, "fanout-copy", "predictions/out", "text/csv", [(f"work/{i}", n) for i, n in enumerate(sizes)]
        )
        copy.complete({"IfNoneMatch": "*"})
        assert s3.get_object(Bucket="fanout-copy", Key="predictions/out")["Body"].read() == b"".join(bodies)
        assert operations.count("UploadPartCopy") >= 2  # the big outputs never left S3
        # fetched: the outputs under a part, and what tops one up to 5 MiB (once here)
        small = sum(n for n in sizes if n < MIN_PART)
        assert sum(sizes) - copy.copied_bytes <= small + MIN_PART


def test_small_total_is_one_put() -> None:
    with mock_aws():
        s3 = boto3.client("s3", region_name="us-east-1")
        s3.create_bucket(Bucket="fanout-copy")
        s3.put_object(Bucket="fanout-copy", Key="work/0", Body=b"a,b\r\n")
        s3.put_object(Bucket="fanout-copy", Key="work/1", Body=b"c,d\r\n")
        MultipartCopy(s3, "fanout-copy", "out", "text/csv", [("work/0", 5), ("work/1", 5)]).complete()
        assert s3.get_object(Bucket="fanout-copy", Key="out")["Body"].read() == b"a,b\r\nc,d\r\n"
