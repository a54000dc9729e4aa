"""The pieces under the batch function: multipart uploads, parallel scoring, streaming gzip."""

from __future__ import annotations

import csv
import gzip
import io
import os

import boto3
import pytest
from moto import mock_aws

from tests.helpers import bundled_texts
from tests.integration.conftest import Batch
from textclf.model import load_predictor
from textclf.settings import get_settings
from textclf_batch.errors import UnreadableFileError
from textclf_batch.s3io import S3Upload
from textclf_batch.scoring import InlineScorer, ProcessScorer, score_chunk
from textclf_batch.streams import open_binary, open_text, physical_lines

pytestmark = pytest.mark.integration

MiB = 1024 * 1024
TEXTS = bundled_texts()


@pytest.fixture
def s3():  # type: ignore[no-untyped-def]
    with mock_aws():
        client = boto3.client("s3", region_name="us-east-1")
        client.create_bucket(Bucket="parts-test")
        yield client


def test_multipart_output_appears_only_when_complete(s3) -> None:  # type: ignore[no-untyped-def]
    upload = S3Upload(s3, "parts-test", "predictions/big.csv", "text/csv", part_size=5 * MiB)
    payload = os.urandom(MiB)
    for _ in range(11):
        upload.write(payload)
        assert "Contents" not in s3.list_objects_v2(Bucket="parts-test")  # nothing visible yet
    assert len(s3.list_multipart_uploads(Bucket="parts-test")["Uploads"]) == 1
    upload.complete()
    body = s3.get_object(Bucket="parts-test", Key="predictions/big.csv")["Body"].read()
    assert body == payload * 11
    assert "Uploads" not in s3.list_multipart_uploads(Bucket="parts-test")


def test_aborted_multipart_output_leaves_nothing(s3) -> None:  # type: ignore[no-untyped-def]
    upload = S3Upload(s3, "parts-test", "predictions/big.csv", "text/csv", part_size=5 * MiB)
    upload.write(os.urandom(6 * MiB))
    upload.abort()
    assert "Contents" not in s3.list_objects_v2(Bucket="parts-test")
    assert "Uploads" not in s3.list_multipart_uploads(Bucket="parts-test")


def test_worker_processes_score_exactly_like_the_inline_scorer(model_dir) -> None:  # type: ignore[no-untyped-def]
    predictor = load_predictor(model_dir)
    chunks = [(i, TEXTS[i * 37 : (i + 1) * 37]) for i in range(9)]
    inline = list(InlineScorer(predictor).map(chunks))
    scorer = ProcessScorer(predictor, workers=2)
    try:
        parallel = list(scorer.map(iter(chunks)))
    finally:
        scorer.close()
    assert parallel == inline
    assert [item for item, _ in parallel] == list(range(9))
    assert inline[0][1] == score_chunk(predictor, TEXTS[:37])


def test_parallel_and_inline_runs_of_the_handler_write_the_same_bytes(
    batch: Batch, batch_env: pytest.MonkeyPatch
) -> None:
    rows = [[str(i), TEXTS[i % len(TEXTS)]] for i in range(5000)]  # > 256 KiB: workers are used
    buffer = io.StringIO()
    csv.writer(buffer).writerows([["id", "text"], *rows])
    body = buffer.getvalue().encode()
    assert len(body) > 256 * 1024
    outputs = []
    for workers in ("1", "2"):
        batch_env.setenv("BATCH_WORKERS", workers)
        batch_env.setenv("BATCH_CHUNK_ROWS", "500")
        get_settings.cache_clear()
        batch.load()
        batch.upload_and_invoke(f"incoming/w{workers}.csv.gz", gzip.compress(body))
        outputs.append(gzip.decompress(batch.read(f"predictions/w{workers}.csv.gz")))
    batch_env.delenv("BATCH_WORKERS")
    batch_env.delenv("BATCH_CHUNK_ROWS")
    get_settings.cache_clear()
    assert outputs[0] == outputs[1]
    assert outputs[0].count(b"\n") == len(rows) + 1


def test_gzip_stream_is_decoded_incrementally() -> None:
    data = b"".join(f"line {i}\n".encode() for i in range(50_000))
    reads: list[int] = []

    class Source(io.BytesIO):
        def read(self, amt: int | None = -1, /) -> bytes:
            chunk = super().read(amt)
            reads.append(len(chunk))
            return chunk

    text, encoding = open_text(open_binary(Source(gzip.compress(data)), compressed=True))
    lines = list(physical_lines(text, 1024))
    assert encoding == "UTF-8"
    assert lines == data.decode().splitlines(keepends=True)
    assert max(reads) <= 1024 * 1024


def test_truncated_gzip_is_an_unreadable_file() -> None:
    stream = open_binary(io.BytesIO(gzip.compress(b"text\n" * 10_000)[:-100]), compressed=True)
    with pytest.raises(UnreadableFileError) as info:
        list(physical_lines(open_text(stream)[0], 1024))
    assert info.value.reason == "corrupt_gzip"
