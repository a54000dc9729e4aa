"""``sam local invoke BatchFunction`` with an S3 event, against a moto server the container reaches.

The moto server listens on the docker0 bridge gateway address (never 0.0.0.0): the only host
address a container on the default bridge can reach. The function finds it through
``AWS_ENDPOINT_URL`` given in ``--env-vars``; the test reads the outputs back with boto3.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote_plus

import boto3
import pytest
from moto.server import ThreadedMotoServer

from scripts.docker_bridge import bridge_gateway
from tests.e2e.samlocal import SamBuild, free_port
from tests.helpers import bundled_texts, load_event
from tests.integration.conftest import create_data_bucket
from textclf.model import load_predictor

pytestmark = [pytest.mark.samlocal, pytest.mark.usefixtures("docker_required")]


@pytest.fixture(scope="module")
def moto_endpoint() -> Iterator[str]:
    host = bridge_gateway()
    port = free_port(host)
    server = ThreadedMotoServer(ip_address=host, port=port, verbose=False)
    server.start()
    try:
        yield f"http://{host}:{port}"
    finally:
        server.stop()


@pytest.fixture(scope="module")
def s3(moto_endpoint: str) -> Any:
    return boto3.client(
        "s3",
        endpoint_url=moto_endpoint,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )


def s3_event(bucket: str, key: str, put: dict[str, Any], size: int) -> dict[str, Any]:
    event = load_event("s3-put.json")
    s3 = event["Records"][0]["s3"]
    s3["bucket"].update(name=bucket, arn=f"arn:aws:s3:::{bucket}")
    s3["object"].update(
        key=quote_plus(key, safe="/"), size=size, eTag=put["ETag"].strip('"'), versionId=put["VersionId"]
    )
    return event


def test_csv_file_is_scored_inside_the_container(
    sam_build: SamBuild, s3: Any, moto_endpoint: str, tmp_path: Path
) -> None:
    texts = bundled_texts()[:25]
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(["id", "text"])
    writer.writerows([str(i), text] for i, text in enumerate(texts))
    writer.writerow(["blank", "   "])  # rejected, reported in the errors file
    body = buffer.getvalue().encode("utf-8")

    bucket = create_data_bucket(s3)
    key = "incoming/e2e run/tickets ünïcode.csv"
    put = s3.put_object(Bucket=bucket, Key=key, Body=body)
    env_vars = tmp_path / "env.json"
    env_vars.write_text(json.dumps({"BatchFunction": {"AWS_ENDPOINT_URL": moto_endpoint}}), encoding="utf-8")

    result, log = sam_build.invoke(
        "BatchFunction", s3_event(bucket, key, put, len(body)), "--env-vars", str(env_vars), name="s3"
    )

    assert result.get("results", [{}])[0].get("status") == "ok", f"{result}\n{log}"
    out_key = "predictions/e2e run/tickets ünïcode.csv"
    rows = list(csv.reader(io.StringIO(s3.get_object(Bucket=bucket, Key=out_key)["Body"].read().decode())))
    assert rows[0] == ["id", "text", "label", "score"]
    assert [r[1] for r in rows[1:]] == texts
    # the container scored exactly what the same model gives on the host
    expected = load_predictor(sam_build.model_layer / "model", "auto").predict(texts)
    assert [r[2] for r in rows[1:]] == [p["label"] for p in expected]

    summary = json.loads(s3.get_object(Bucket=bucket, Key=f"{out_key}.summary.json")["Body"].read())
    assert summary["status"] == "ok"
    assert summary["rows"] == {"read": len(texts) + 1, "scored": len(texts), "rejected": 1}
    errors = s3.get_object(Bucket=bucket, Key=f"{out_key}.errors.jsonl")["Body"].read().decode().splitlines()
    assert len(errors) == 1 and json.loads(errors[0])["line"] == len(texts) + 2, errors
    # nothing written outside predictions/, nothing under incoming/ but the input
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket=bucket)["Contents"]]
    assert sorted(keys) == sorted([key, out_key, f"{out_key}.summary.json", f"{out_key}.errors.jsonl"])
