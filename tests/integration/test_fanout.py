"""Files bigger than one function: the real state machine (template.yaml's definition file) in moto's
Step Functions interpreter, its Lambda tasks running this project's handlers in-process
(``tests/stepfunctions.py`` documents the shim), against the data bucket as the template defines it.
"""

from __future__ import annotations

import importlib
import io
import json
import logging
import random
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws

from tests.conftest import reset_caches
from tests.integration.conftest import STACK, Batch, allowed, create_data_bucket, iam_request, resolve
from tests.stepfunctions import LambdaShim, definition, service_error, state_machine_resource
from textclf.model import get_predictor
from textclf.settings import get_settings
from textclf_batch import S3Input, process_object

pytestmark = pytest.mark.integration

RANGE_BYTES = 2048


@dataclass
class Fanout:
    batch: Batch
    sfn: Any
    shim: LambdaShim
    arn: str
    s3_calls: list[tuple[str, str, dict[str, Any]]]

    def start(self, key: str, body: bytes) -> dict[str, Any]:
        """Upload ``key`` and deliver its S3 event to the batch function; its one result."""
        result = self.batch.upload_and_invoke(key, body)
        [item] = result["results"]
        return dict(item)

    def wait(self, execution_arn: str, timeout: float = 60) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            described: dict[str, Any] = self.sfn.describe_execution(executionArn=execution_arn)
            if described["status"] != "RUNNING":
                return described
            time.sleep(0.05)
        raise AssertionError(f"{execution_arn} still running after {timeout} s")

    def reference(self, key: str, body: bytes) -> None:
        """The single-function path's outputs for the same bytes, under another key."""
        put = self.batch.put(key, body)
        obj = S3Input(self.batch.bucket, key, put["VersionId"], put["ETag"].strip('"'))
        summary = process_object(self.batch.s3, get_predictor(get_settings()), obj, get_settings())
        assert summary.status == "ok"

    def versions(self, prefix: str) -> list[dict[str, Any]]:
        listing = self.batch.s3.list_object_versions(Bucket=self.batch.bucket, Prefix=prefix)
        return [*listing.get("Versions", []), *listing.get("DeleteMarkers", [])]


@pytest.fixture
def fanout(model_dir: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Fanout]:
    for name, value in {
        "MODEL_DIR": str(model_dir),
        "BATCH_WORKERS": "1",  # the map runs ranges in threads here: no forking from them
        "FANOUT_THRESHOLD_BYTES": "4096",
        "FANOUT_RANGE_BYTES": str(RANGE_BYTES),
        "FANOUT_MAX_CONCURRENCY": "4",
        "WORK_PREFIX": "work/",
        "MAX_TEXT_CHARS": "50",  # so that some rows are too long
    }.items():
        monkeypatch.setenv(name, value)
    with mock_aws(config={"stepfunctions": {"execute_state_machine": True}}):
        s3 = boto3.client("s3", region_name="us-east-1")
        bucket = create_data_bucket(s3)
        sfn = boto3.client("stepfunctions", region_name="us-east-1")
        name = resolve(state_machine_resource()["Properties"]["Name"], STACK)
        arn = sfn.create_state_machine(
            name=name, definition=definition(), roleArn="arn:aws:iam::123456789012:role/fanout"
        )["stateMachineArn"]
        monkeypatch.setenv("FANOUT_STATE_MACHINE_ARN", arn)
        reset_caches()
        batch = Batch(s3, bucket)
        batch.load()
        shim = LambdaShim()
        shim.install(monkeypatch)
        calls: list[tuple[str, str, dict[str, Any]]] = []

        def record(params: dict[str, Any], model: Any, **_: Any) -> None:
            calls.append((getattr(shim.current, "function", None) or "?", model.name, dict(params)))

        for step in ("plan_main", "score_main", "publish_main"):  # imported afresh, as Lambda's init does
            sys.modules.pop(f"textclf_fanout.{step}", None)
            importlib.import_module(f"textclf_fanout.{step}").s3.meta.events.register(
                "provide-client-params.s3.*", record
            )
        yield Fanout(batch, sfn, shim, arn, calls)
        # every run a test started ends inside it: one still going would call the next test's shim
        running = sfn.list_executions(stateMachineArn=arn, statusFilter="RUNNING")["executions"]
        assert not running, f"{len(running)} execution(s) left running: wait for each run a test starts"
        check_step_calls(calls)
    reset_caches()


EXTRA_ACTIONS = {
    "UploadPartCopy": "s3:PutObject",
    "ListObjectVersions": "s3:ListBucketVersions",
    "DeleteObjects": "s3:DeleteObjectVersion",
}


def check_step_calls(calls: list[tuple[str, str, dict[str, Any]]]) -> None:
    """Every S3 call a step made is allowed by that step's function policy in template.yaml."""
    resources = STATE_RESOURCES()
    for function, operation, params in calls:
        assert function in resources, (function, operation)
        statements = [
            s for p in resources[function]["Properties"]["Policies"] for s in resolve(p["Statement"], STACK)
        ]
        bucket_arn = f"arn:aws:s3:::{params['Bucket']}"
        needs: list[tuple[str, str, dict[str, str]]] = []
        if operation in EXTRA_ACTIONS:
            action = EXTRA_ACTIONS[operation]
            if operation == "ListObjectVersions":
                needs.append((action, bucket_arn, {"s3:prefix": params.get("Prefix", "")}))
            elif operation == "DeleteObjects":
                needs += [(action, f"{bucket_arn}/{o['Key']}", {}) for o in params["Delete"]["Objects"]]
            else:
                needs.append((action, f"{bucket_arn}/{params['Key']}", {}))
                source = params["CopySource"]
                needs.append(("s3:GetObject", f"arn:aws:s3:::{source['Bucket']}/{source['Key']}", {}))
        else:
            needs.append(iam_request(operation, params, bucket_arn))
        for action, resource, context in needs:
            assert allowed(statements, action, resource, context), (
                f"{function} {operation}: {action} on {resource}"
            )


def STATE_RESOURCES() -> dict[str, Any]:  # noqa: N802 - read fresh, as the template may change
    from tests.cfn import load_template

    return {
        k: r for k, r in load_template()["Resources"].items() if k.startswith("Fanout") and "Function" in k
    }


# -- files ---------------------------------------------------------------------------------------

WORDS = ["refund", "charged twice", "password reset", "login fails", "card declined", "where is my order"]


def csv_file(rows: int, seed: int = 7) -> bytes:
    """CSV with quoted multi-line texts, escaped quotes, CRLF, a BOM and bad rows of every kind."""
    rng = random.Random(seed)
    out = ["\ufeffid,text,team"]
    for i in range(rows):
        text = " ".join(rng.choice(WORDS) for _ in range(rng.randint(1, 6)))
        kind = i % 17
        if kind == 3:
            out.append(f'{i},"{text}\r\nsecond line, with ""quotes""",a')
        elif kind == 5:
            out.append(f"{i},,b")  # empty text
        elif kind == 7:
            out.append(f"{i},{text},c,extra")  # wrong field count
        elif kind == 11:
            out.append(f'{i},"{"x" * 60}",d')  # too long (MAX_TEXT_CHARS below)
        elif kind == 13:
            out.append("")  # a blank line
        else:
            out.append(f"{i},{text},e")
    data = ("\r\n".join(out) + "\r\n").encode("utf-8")
    return data.replace(b"16,", b"16,\xff", 1)  # one row that is not UTF-8


def jsonl_file(rows: int) -> bytes:
    lines = []
    for i in range(rows):
        kind = i % 13
        if kind == 4:
            lines.append("{not json")
        elif kind == 6:
            lines.append(json.dumps({"id": i, "text": 5}))
        elif kind == 9:
            lines.append("")
        else:
            lines.append(json.dumps({"id": i, "text": f"{WORDS[i % len(WORDS)]} {i}", "label": "x"}))
    return ("\n".join(lines) + "\n").encode()


# -- tests ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(("name", "body"), [("big.csv", csv_file(400)), ("big.jsonl", jsonl_file(1600))])
def test_fanned_out_outputs_are_byte_identical_to_the_single_function(
    fanout: Fanout, name: str, body: bytes
) -> None:
    started = fanout.start(f"incoming/{name}", body)
    assert started["status"] == "fanned_out" and not started["duplicate"]
    execution = fanout.wait(started["execution_arn"])
    assert execution["status"] == "SUCCEEDED", execution
    plan = [c for f, c in fanout.shim.calls if f == "FanoutRangeFunction"]
    assert len(plan) >= 8  # the file really was split

    fanout.reference(f"incoming/ref-{name}", body)
    fan, ref = f"predictions/{name}", f"predictions/ref-{name}"
    assert fanout.batch.read(fan) == fanout.batch.read(ref)
    assert fanout.batch.read(f"{fan}.errors.jsonl") == fanout.batch.read(f"{ref}.errors.jsonl")
    assert fanout.batch.read(f"{fan}.errors.jsonl")  # there were rejected rows, spread over ranges
    summary, expected = (
        fanout.batch.summary(f"{fan}.summary.json"),
        fanout.batch.summary(f"{ref}.summary.json"),
    )
    assert summary["fanout"] == {"execution_arn": started["execution_arn"], "ranges": len(plan)}
    for field in (
        "status",
        "rows",
        "rejected_by_reason",
        "blank_lines",
        "model_version",
        "settings",
        "error",
    ):
        assert summary[field] == expected[field], field
    same_input = ("format", "compressed", "encoding", "size", "delimiter")
    assert {k: summary["input"].get(k) for k in same_input} == {
        k: expected["input"].get(k) for k in same_input
    }
    head = fanout.batch.s3.head_object(Bucket=fanout.batch.bucket, Key=fan)
    assert head["Metadata"]["input-version-id"] == summary["input"]["version_id"]
    assert fanout.versions("work/") == []  # the work objects are gone, every version


def test_a_failing_range_fails_the_run_and_publishes_nothing(fanout: Fanout) -> None:
    fanout.shim.handlers["FanoutRangeFunction"] = "tests.integration.test_fanout.crashing_range"
    body = csv_file(300)
    started = fanout.start("incoming/fails.csv", body)
    execution = fanout.wait(started["execution_arn"])
    assert execution["status"] == "FAILED"
    assert fanout.batch.keys("predictions/") == [
        "predictions/fails.csv.errors.jsonl",
        "predictions/fails.csv.summary.json",
    ]
    summary = fanout.batch.summary("predictions/fails.csv.summary.json")
    assert summary["status"] == "failed" and summary["error"]["reason"] == "fanout_failed"
    assert summary["outputs"]["predictions"] is None
    # AWS fails the map itself (ToleratedFailurePercentage 0: States.ExceedToleratedFailureThreshold);
    # moto 5.2 does not apply tolerances, so there the merge finds the range missing and fails
    assert any(
        e in summary["error"]["message"] for e in ("ExceedToleratedFailureThreshold", "IncompleteRunError")
    )
    assert fanout.versions("work/") == []


class RangeCrashed(Exception):
    """What the crashing range raises."""


def crashing_range(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """The range handler, crashing on range 3 (as a bug or a lost worker would)."""
    if event["range"]["index"] == 3:
        raise RangeCrashed("range 3 crashed")
    result: dict[str, Any] = importlib.import_module("textclf_fanout.score_main").handler(event, context)
    return result


def test_lambda_throttling_is_retried(fanout: Fanout) -> None:
    failed: list[int] = []

    def fault(function: str, payload: dict[str, Any]) -> None:
        index = payload.get("range", {}).get("index")
        if function == "FanoutRangeFunction" and index in (1, 2) and index not in failed:
            failed.append(index)
            raise service_error("TooManyRequestsException")

    fanout.shim.fault = fault
    started = fanout.start("incoming/throttled.csv", csv_file(300))
    execution = fanout.wait(started["execution_arn"])
    assert execution["status"] == "SUCCEEDED" and sorted(failed) == [1, 2]
    assert fanout.batch.summary("predictions/throttled.csv.summary.json")["status"] == "ok"


def test_a_duplicate_event_changes_nothing(fanout: Fanout) -> None:
    body = csv_file(300)
    put = fanout.batch.put("incoming/twice.csv", body)
    event = fanout.batch.event("incoming/twice.csv", put, len(body))
    first = fanout.batch.invoke(event)["results"][0]
    fanout.wait(first["execution_arn"])
    before = fanout.versions("predictions/twice.csv")
    second = fanout.batch.invoke(event)["results"][0]
    assert second["duplicate"] and second["execution_arn"] == first["execution_arn"]
    assert len(fanout.sfn.list_executions(stateMachineArn=fanout.arn)["executions"]) == 1
    assert fanout.versions("predictions/twice.csv") == before


def test_the_batch_function_logs_each_file_it_fans_out(fanout: Fanout) -> None:
    """The route's INFO line reaches the function's log: the handler's Powertools set-up is copied to
    the textclf_fanout loggers (the tests run at WARNING; INFO, the template's default, is set here)."""
    stream = io.StringIO()
    handlers = [h for h in fanout.batch.module.logger.handlers if isinstance(h, logging.StreamHandler)]
    assert handlers
    previous = [h.stream for h in handlers]
    fanout_logger = logging.getLogger("textclf_fanout")
    levels = (fanout.batch.module.logger.log_level, fanout_logger.level)
    for handler in handlers:
        handler.stream = stream
    fanout.batch.module.logger.setLevel("INFO")
    fanout_logger.setLevel("INFO")
    try:
        started = fanout.start("incoming/logged.csv", csv_file(400))
    finally:
        for handler, old in zip(handlers, previous, strict=True):
            handler.stream = old
        fanout.batch.module.logger.setLevel(levels[0])
        fanout_logger.setLevel(levels[1])
    # the run finishes here: a run left going would call the next test's Lambda shim
    assert fanout.wait(started["execution_arn"])["status"] == "SUCCEEDED"
    lines = [json.loads(line) for line in stream.getvalue().splitlines() if line.startswith("{")]
    [line] = [entry for entry in lines if entry["message"] == "file fanned out to the state machine"]
    assert line["level"] == "INFO" and line["key"] == "incoming/logged.csv"
    assert started["execution_arn"].endswith(line["execution"])


def test_gzip_is_scored_by_the_batch_function_itself(fanout: Fanout) -> None:
    import gzip

    body = gzip.compress(csv_file(3000), mtime=0)
    assert len(body) > get_settings().fanout_threshold_bytes
    result = fanout.batch.upload_and_invoke("incoming/packed.csv.gz", body)
    [item] = result["results"]
    assert item["status"] == "ok"  # scored here, not fanned out
    assert fanout.sfn.list_executions(stateMachineArn=fanout.arn)["executions"] == []
    assert io.BytesIO(fanout.batch.read("predictions/packed.csv.gz")).read(2) == b"\x1f\x8b"


# -- the CSV size limit (FANOUT_CSV_MAX_BYTES) ------------------------------------------------------


def limit_csv(monkeypatch: pytest.MonkeyPatch, limit: int) -> None:
    """FANOUT_CSV_MAX_BYTES for the plan step's container (it read its settings at import)."""
    plan_main = sys.modules["textclf_fanout.plan_main"]
    monkeypatch.setattr(
        plan_main, "settings", plan_main.settings.model_copy(update={"fanout_csv_max_bytes": limit})
    )


def test_a_csv_over_the_limit_is_refused_up_front_with_a_failed_summary(
    fanout: Fanout, monkeypatch: pytest.MonkeyPatch
) -> None:
    old = csv_file(20)  # an earlier, small version of the key: scored by the batch function
    assert fanout.start("incoming/huge.csv", old)["status"] == "ok"
    body = csv_file(400)
    limit_csv(monkeypatch, len(body) - 1)
    started = fanout.start("incoming/huge.csv", body)
    execution = fanout.wait(started["execution_arn"])
    assert execution["status"] == "SUCCEEDED", execution  # a file-level failure, reported: not retried
    assert [f for f, _ in fanout.shim.calls] == ["FanoutPlanFunction", "FanoutPublishFunction"]
    summary = fanout.batch.summary("predictions/huge.csv.summary.json")
    assert summary["status"] == "failed" and summary["outputs"]["predictions"] is None
    assert summary["error"]["reason"] == "too_large"
    message = summary["error"]["message"]
    assert f"{len(body):,} bytes" in message and f"{len(body) - 1:,} bytes" in message
    assert "FANOUT_CSV_MAX_BYTES" in message and "\n" not in message
    assert summary["fanout"] == {"execution_arn": started["execution_arn"], "ranges": 0}
    assert summary["input"]["size"] == len(body) and summary["rows"] == {
        "read": 0,
        "scored": 0,
        "rejected": 0,
    }
    errors = fanout.batch.read("predictions/huge.csv.errors.jsonl").decode().splitlines()
    assert [json.loads(line) for line in errors] == [{"line": None, **summary["error"]}]
    # the older version's predictions are withdrawn: no predictions beside a failed summary
    assert "predictions/huge.csv" not in fanout.batch.keys("predictions/")
    assert fanout.versions("work/") == []


def test_a_csv_at_the_limit_is_planned_and_json_lines_are_never_refused(
    fanout: Fanout, monkeypatch: pytest.MonkeyPatch
) -> None:
    body = csv_file(400)
    limit_csv(monkeypatch, len(body))
    started = fanout.start("incoming/edge.csv", body)
    assert fanout.wait(started["execution_arn"])["status"] == "SUCCEEDED"
    assert fanout.batch.summary("predictions/edge.csv.summary.json")["status"] == "ok"
    limit_csv(monkeypatch, 1)
    started = fanout.start("incoming/lines.jsonl", jsonl_file(1600))
    assert fanout.wait(started["execution_arn"])["status"] == "SUCCEEDED"
    assert fanout.batch.summary("predictions/lines.jsonl.summary.json")["status"] == "ok"


def test_a_csv_scan_that_would_not_finish_in_time_is_refused_too(
    fanout: Fanout, monkeypatch: pytest.MonkeyPatch
) -> None:
    """FANOUT_CSV_MAX_BYTES assumes a scan rate; a slower plan step stops with its 30 s margin
    left and reports the file as refused, instead of timing out."""
    from tests.helpers import LambdaContext

    def remaining(self: LambdaContext) -> int:
        return 20_000 if self.function_name == "FanoutPlanFunction" else 300_000

    monkeypatch.setattr(LambdaContext, "get_remaining_time_in_millis", remaining)
    body = csv_file(400)
    started = fanout.start("incoming/slow.csv", body)
    assert fanout.wait(started["execution_arn"])["status"] == "SUCCEEDED"
    assert [f for f, _ in fanout.shim.calls] == ["FanoutPlanFunction", "FanoutPublishFunction"]
    summary = fanout.batch.summary("predictions/slow.csv.summary.json")
    assert summary["status"] == "failed" and summary["error"]["reason"] == "too_large"
    message = summary["error"]["message"]
    assert f"of the CSV file's {len(body):,} bytes" in message and "under 30 s" in message
    assert "FANOUT_CSV_MAX_BYTES" in message and "\n" not in message
    assert fanout.versions("work/") == []
    started = fanout.start("incoming/slow.jsonl", jsonl_file(1600))  # no scan: planned as before
    assert fanout.wait(started["execution_arn"])["status"] == "SUCCEEDED"
    assert fanout.batch.summary("predictions/slow.jsonl.summary.json")["status"] == "ok"
