"""template.yaml for the fan-out: the state machine's wiring, each step's least privilege, parameters."""

from __future__ import annotations

import json
import re
from typing import Any

from tests.cfn import load_template
from tests.helpers import ROOT

BUCKET = "arn:${AWS::Partition}:s3:::${AWS::StackName}-data-${AWS::AccountId}-${AWS::Region}"
STEPS = {"PlanFunctionArn": "FanoutPlanFunction", "RangeFunctionArn": "FanoutRangeFunction"}
STEPS["PublishFunctionArn"] = "FanoutPublishFunction"


def resources() -> dict[str, Any]:
    res: dict[str, Any] = load_template()["Resources"]
    return res


def machine() -> dict[str, Any]:
    props: dict[str, Any] = resources()["BatchFanoutStateMachine"]["Properties"]
    return props


def definition() -> dict[str, Any]:
    data: dict[str, Any] = json.loads((ROOT / machine()["DefinitionUri"]).read_text())
    return data


def statements(logical_id: str) -> list[dict[str, Any]]:
    props = resources()[logical_id]["Properties"]
    return [s for p in props.get("Policies", []) if isinstance(p, dict) for s in p["Statement"]]


def grants(logical_id: str) -> set[tuple[str, str]]:
    """(action, resource) pairs a role is allowed, resources as written in the template."""
    out = set()
    for s in statements(logical_id):
        assert s["Effect"] == "Allow"
        actions = s["Action"] if isinstance(s["Action"], list) else [s["Action"]]
        targets = s["Resource"] if isinstance(s["Resource"], list) else [s["Resource"]]
        for action in actions:
            for target in targets:
                out.add((action, json.dumps(target, sort_keys=True) if isinstance(target, dict) else target))
    return out


def sub(path: str) -> str:
    return json.dumps({"Sub": f"{BUCKET}{path}"}, sort_keys=True)


def test_definition_file_and_substitutions_agree() -> None:
    text = (ROOT / machine()["DefinitionUri"]).read_text()
    used = set(re.findall(r"\$\{(\w+)\}", text))
    assert used == set(machine()["DefinitionSubstitutions"]) == set(STEPS)
    for name, logical_id in STEPS.items():
        assert machine()["DefinitionSubstitutions"][name] == {"GetAtt": f"{logical_id}.Arn"}
        assert resources()[logical_id]["Properties"]["CodeUri"] == "functions/batch/"


def test_the_map_reads_the_plan_from_s3_and_tolerates_no_failed_range() -> None:
    states = definition()["States"]
    [the_map] = [s for s in states.values() if s["Type"] == "Map"]
    assert the_map["ItemProcessor"]["ProcessorConfig"]["Mode"] == "DISTRIBUTED"
    assert the_map["ItemReader"]["Resource"] == "arn:aws:states:::s3:getObject"
    assert the_map["ItemReader"]["ReaderConfig"]["InputType"] == "JSON"
    assert the_map["ToleratedFailurePercentage"] == 0
    assert the_map["MaxConcurrencyPath"] == "$.planned.plan.max_concurrency"  # FANOUT_MAX_CONCURRENCY
    assert the_map["ResultPath"] is None  # range results stay in S3, not in the 256 KiB state
    tasks = {**states, **the_map["ItemProcessor"]["States"]}
    for name, state in tasks.items():
        if state["Type"] != "Task":
            continue
        errors = {e for r in state["Retry"] for e in r["ErrorEquals"]}
        if name != "RecordFailure":
            assert {"Lambda.ServiceException", "Lambda.TooManyRequestsException"} <= errors, name
            assert "States.ALL" not in errors, name  # deterministic failures are not retried
        if name in states and name != "RecordFailure":
            assert [c["Next"] for c in state["Catch"]] == ["RecordFailure"], name
    assert states["RecordFailure"]["Next"] == "Failed" and states["Failed"]["Type"] == "Fail"


def test_state_machine_role_invokes_only_its_steps_and_reads_only_the_work_prefix() -> None:
    allowed = grants("BatchFanoutStateMachine")
    lambdas = {r for a, r in allowed if a == "lambda:InvokeFunction"}
    assert lambdas == {json.dumps({"GetAtt": f"{f}.Arn"}) for f in STEPS.values()}
    assert {(a, r) for a, r in allowed if a.startswith("s3:")} == {("s3:GetObject", sub("/work/*"))}
    assert machine()["Name"] == {"Sub": "${AWS::StackName}-batch-fanout"}
    starts = {r for a, r in allowed if a == "states:StartExecution"}
    assert len(starts) == 1 and "stateMachine:${AWS::StackName}-batch-fanout" in next(iter(starts))
    assert machine()["Logging"]["IncludeExecutionData"] is False  # keys and counts only, no data


def test_each_step_may_touch_only_its_prefixes() -> None:
    plan, score, publish = (grants(f) for f in STEPS.values())
    assert {r for a, r in plan if a == "s3:PutObject"} == {sub("/work/*")}
    assert {r for a, r in score if a in ("s3:PutObject", "s3:AbortMultipartUpload")} == {sub("/work/*")}
    writes = {"s3:PutObject", "s3:DeleteObject", "s3:DeleteObjectVersion", "s3:AbortMultipartUpload"}
    assert {r for a, r in publish if a in writes} == {sub("/predictions/*"), sub("/work/*")}
    assert {r for a, r in publish if a == "s3:PutObject"} == {sub("/predictions/*")}
    for step in (plan, score, publish):
        assert not {r for a, r in step if a in writes and "incoming" in r}  # inputs are never written
        assert all(a.startswith("s3:") for a, _ in step)
    # only the S3-triggered function starts runs
    functions = [k for k, r in resources().items() if r["Type"] == "AWS::Serverless::Function"]
    starters = [k for k in functions if any(a == "states:StartExecution" for a, _ in grants(k))]
    assert starters == ["BatchFunction"]
    batch_env = resources()["BatchFunction"]["Properties"]["Environment"]["Variables"]
    assert batch_env["FANOUT_STATE_MACHINE_ARN"] == {"Ref": "BatchFanoutStateMachine"}
    assert batch_env["FANOUT_THRESHOLD_BYTES"] == {"Ref": "BatchFanoutThresholdBytes"}


def test_parameters_reach_the_steps() -> None:
    template = load_template()
    params = template["Parameters"]
    # a third of the 15-minute limit at the README's measured 40,941 rows/s of ~81 bytes: ~1 GB
    derived = 900 / 3 * 40_941 * 81
    assert abs(params["BatchFanoutThresholdBytes"]["Default"] - derived) / derived < 0.05
    env = resources()["FanoutPlanFunction"]["Properties"]["Environment"]["Variables"]
    assert env["FANOUT_MAX_CONCURRENCY"] == {"Ref": "BatchFanoutMaxConcurrency"}
    assert env["FANOUT_RANGE_BYTES"] == {"Ref": "BatchFanoutRangeBytes"}
    assert resources()["FanoutRangeFunction"]["Properties"]["MemorySize"] == {"Ref": "BatchMemorySize"}


def test_the_csv_size_limit_is_what_the_plan_step_can_scan_in_time() -> None:
    """FANOUT_CSV_MAX_BYTES: the plan function's timeout less the steps' 30 s margin, at the scan
    rate the README measured (make bench-scale), on the one vCPU the plan function has."""
    from tests.helpers import ROOT
    from textclf.settings import Settings
    from textclf_batch import TIME_MARGIN_SECONDS

    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    [rate] = re.findall(r"\| plan \(CSV quote-state scan\) \|.*: (\d+) MB/s of scan per vCPU \|", readme)
    plan = resources()["FanoutPlanFunction"]["Properties"]
    assert plan["MemorySize"] <= 1769  # one vCPU at most: the scan is one thread anyway
    derived = (plan["Timeout"] - TIME_MARGIN_SECONDS) * int(rate) * 1_000_000
    default = load_template()["Parameters"]["BatchFanoutCsvMaxBytes"]["Default"]
    assert 0.95 * derived <= default <= derived
    assert Settings.model_fields["fanout_csv_max_bytes"].default == default
    for step in ("FanoutPlanFunction", "FanoutRangeFunction", "FanoutPublishFunction"):
        env = resources()[step]["Properties"]["Environment"]["Variables"]
        assert env["FANOUT_CSV_MAX_BYTES"] == {"Ref": "BatchFanoutCsvMaxBytes"}


def test_work_objects_expire_and_failed_runs_alarm() -> None:
    rules = resources()["DataBucket"]["Properties"]["LifecycleConfiguration"]["Rules"]
    [work] = [r for r in rules if r.get("Prefix") == "work/"]
    assert work["Status"] == "Enabled" and work["ExpirationInDays"] <= 7
    alarm = resources()["BatchFanoutFailedAlarm"]["Properties"]
    metrics = {m["MetricStat"]["Metric"]["MetricName"] for m in alarm["Metrics"] if "MetricStat" in m}
    assert metrics == {"ExecutionsFailed", "ExecutionsTimedOut", "ExecutionsAborted"}
    for m in alarm["Metrics"]:
        if "MetricStat" in m:
            assert m["MetricStat"]["Metric"]["Dimensions"] == [
                {"Name": "StateMachineArn", "Value": {"Ref": "BatchFanoutStateMachine"}}
            ]
    assert alarm["Threshold"] == {"Ref": "FailedFilesThreshold"}
