"""Observability of the API function as deployed: structured logs with API Gateway's request id
as correlation id, one structured line per unhandled error, and EMF metrics."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator
from types import ModuleType
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.emf import dimension_sets, emf_documents, metrics_of
from tests.helpers import LambdaContext, load_event, response_json
from textclf import metrics


@pytest.fixture
def logs(api_module: ModuleType) -> Iterator[io.StringIO]:
    """What the function's Powertools handler writes (the `textclf` loggers share it), at DEBUG."""
    stream = io.StringIO()
    handlers = [h for h in api_module.logger.handlers if isinstance(h, logging.StreamHandler)]
    assert handlers
    # assigned, not setStream(): that flushes the old stream, which may be an earlier test's
    # captured stdout, already closed when the module was first imported under capture
    previous = [h.stream for h in handlers]
    for handler in handlers:
        handler.stream = stream
    # the tests change the loggers' levels (_set_level): each gets its own back afterwards, so no
    # later test (in any order) runs with a level this one set
    levels = {logger: logger.level for logger in _loggers(api_module)}
    try:
        yield stream
    finally:
        for logger, level in levels.items():
            logger.setLevel(level)
        for handler, old in zip(handlers, previous, strict=True):
            handler.stream = old


def _loggers(api_module: ModuleType) -> list[logging.Logger]:
    """The function's logger and the `textclf` loggers it configured (as Lambda's init does)."""
    names = [name for name in list(logging.root.manager.loggerDict) if name.startswith("textclf")]
    return [logging.getLogger(name) for name in (api_module.logger.name, *names)]


def _set_level(api_module: ModuleType, level: str) -> None:
    """The level on the function's logger and the `textclf` loggers it configured."""
    for logger in _loggers(api_module):
        logger.setLevel(level)


def _lines(stream: io.StringIO) -> list[dict[str, Any]]:
    # every line the function logs is one JSON object
    return [json.loads(line) for line in stream.getvalue().splitlines() if line.strip()]


@pytest.mark.parametrize(
    "event_name", ["apigw-v2-predict.json", "apigw-v1-predict.json", "apigw-v2-predict-jwt.json"]
)
def test_every_log_line_of_a_request_carries_the_request_id(
    api_module: ModuleType, logs: io.StringIO, event_name: str
) -> None:
    _set_level(api_module, "DEBUG")
    event = load_event(event_name)
    api_module.handler(event, LambdaContext())
    lines = _lines(logs)
    assert lines, "nothing logged at DEBUG"
    assert {line["correlation_id"] for line in lines} == {event["requestContext"]["requestId"]}
    assert all(line["function_request_id"] == LambdaContext().aws_request_id for line in lines)


def test_the_template_default_level_logs_nothing_per_request(
    api_module: ModuleType, logs: io.StringIO, capsys: pytest.CaptureFixture[str]
) -> None:
    """INFO is the template's default; API Gateway's access log already has one line per request."""
    _set_level(api_module, "INFO")
    api_module.handler(load_event("apigw-v2-predict.json"), LambdaContext())
    api_module.handler(load_event("apigw-v2-health.json"), LambdaContext())
    assert logs.getvalue() == ""
    captured = capsys.readouterr()
    assert captured.err == ""


def test_an_unhandled_error_is_logged_once_as_structured_json(
    api_module: ModuleType,
    logs: io.StringIO,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def boom(texts: list[str]) -> list[Any]:
        raise RuntimeError("model exploded")

    monkeypatch.setattr(api_module.predictor, "predict", boom)
    _set_level(api_module, "INFO")
    event = load_event("apigw-v2-predict.json")
    response = api_module.handler(event, LambdaContext())
    assert response["statusCode"] == 500
    assert response_json(response)["type"] == "urn:textclf:problem:internal-error"

    captured = capsys.readouterr()
    assert "Traceback" not in captured.err + captured.out  # no plain-text copy from another logger
    errors = [line for line in _lines(logs) if line["level"] == "ERROR"]
    assert len(errors) == 1, logs.getvalue()
    [error] = errors
    assert error["correlation_id"] == event["requestContext"]["requestId"]
    assert error["exception_name"] == "RuntimeError"
    assert "model exploded" in error["exception"]  # the traceback is inside the JSON line


# --- metrics (EMF) ----------------------------------------------------------------------------


def _emf(capsys: pytest.CaptureFixture[str]) -> list[dict[str, Any]]:
    return emf_documents(capsys.readouterr().out)


def test_a_prediction_is_one_emf_line_with_its_label(
    api_module: ModuleType, capsys: pytest.CaptureFixture[str]
) -> None:
    capsys.readouterr()
    response = api_module.handler(load_event("apigw-v2-predict.json"), LambdaContext())
    label = response_json(response)["label"]
    [doc] = _emf(capsys)
    assert dimension_sets(doc) == [["service"], ["service", "label"]]
    assert doc["service"] == "textclf-test" and doc["label"] == label
    values = metrics_of(doc)
    assert set(values) == {"Predictions", "PredictionLatency"}
    assert values["Predictions"] == 1 and values["PredictionLatency"] > 0
    units = {m["Name"]: m["Unit"] for m in doc["_aws"]["CloudWatchMetrics"][0]["Metrics"]}
    assert units == {"Predictions": "Count", "PredictionLatency": "Milliseconds"}


def test_a_batch_counts_predictions_per_label(
    api_module: ModuleType, capsys: pytest.CaptureFixture[str]
) -> None:
    event = load_event("apigw-v2-predict-batch.json")
    event["body"] = json.dumps(
        {"texts": ["refund my double charge", "charged twice", "where is my parcel", "reset my password"]}
    )
    capsys.readouterr()
    labels = [p["label"] for p in response_json(api_module.handler(event, LambdaContext()))["predictions"]]
    docs = _emf(capsys)
    latency = [d for d in docs if "PredictionLatency" in metrics_of(d)]
    assert len(latency) == 1 and dimension_sets(latency[0]) == [["service"]]
    counts = {d["label"]: metrics_of(d)["Predictions"] for d in docs if "label" in d}
    assert counts == {label: labels.count(label) for label in set(labels)}
    assert sum(counts.values()) == 4


@pytest.mark.parametrize(
    ("body", "ctype", "problem", "status"),
    [
        ('{"text": "   "}', "application/json", "validation-error", 422),
        ('{"text": ', "application/json", "malformed-json", 400),
        ("text=hello", "application/x-www-form-urlencoded", "unsupported-media-type", 415),
    ],
)
def test_problems_are_counted_by_type(
    api_module: ModuleType,
    capsys: pytest.CaptureFixture[str],
    body: str,
    ctype: str,
    problem: str,
    status: int,
) -> None:
    event = load_event("apigw-v2-predict.json", body=body)
    event["headers"]["content-type"] = ctype
    capsys.readouterr()
    assert api_module.handler(event, LambdaContext())["statusCode"] == status
    [doc] = _emf(capsys)
    assert metrics_of(doc) == {"Problems": 1}
    assert doc["problem"] == problem and dimension_sets(doc) == [["service"], ["service", "problem"]]


def test_unknown_route_is_a_problem_named_by_status(
    api_module: ModuleType, capsys: pytest.CaptureFixture[str]
) -> None:
    event = load_event("apigw-v2-health.json")
    event["rawPath"] = event["requestContext"]["http"]["path"] = "/nope/4111-1111"
    capsys.readouterr()
    api_module.handler(event, LambdaContext())
    [doc] = _emf(capsys)
    assert doc["problem"] == "http-404"
    assert "4111" not in json.dumps(doc)  # the path is never a dimension


def test_failures_are_counted(
    api_module: ModuleType, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    def boom(texts: list[str]) -> list[Any]:
        raise RuntimeError("x")

    monkeypatch.setattr(api_module.predictor, "predict", boom)
    capsys.readouterr()
    api_module.handler(load_event("apigw-v1-predict.json"), LambdaContext())
    [doc] = _emf(capsys)
    assert metrics_of(doc) == {"Failures": 1} and dimension_sets(doc) == [["service"]]


def test_no_metrics_for_health_docs_or_local_serving(
    api_module: ModuleType, capsys: pytest.CaptureFixture[str]
) -> None:
    capsys.readouterr()
    api_module.handler(load_event("apigw-v2-health.json"), LambdaContext())
    api_module.handler(load_event("apigw-v2-health-head.json"), LambdaContext())
    TestClient(api_module.app).post("/predict", json={"text": "where is my order"})  # make run
    assert _emf(capsys) == []


def test_metrics_can_be_turned_off(
    api_module: ModuleType, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("POWERTOOLS_METRICS_DISABLED", "true")
    metrics.configure()  # as a new container would read it at init
    try:
        capsys.readouterr()
        assert api_module.handler(load_event("apigw-v2-predict.json"), LambdaContext())["statusCode"] == 200
        assert _emf(capsys) == []
    finally:
        monkeypatch.undo()
        metrics.configure()
    api_module.handler(load_event("apigw-v2-predict.json"), LambdaContext())
    assert len(_emf(capsys)) == 1


def test_user_text_never_reaches_a_metric(api_module: ModuleType, capsys: pytest.CaptureFixture[str]) -> None:
    secret = "card 4111 1111 1111 1111 please"
    capsys.readouterr()
    api_module.handler(
        load_event("apigw-v2-predict.json", body=json.dumps({"text": secret})), LambdaContext()
    )
    api_module.handler(
        load_event("apigw-v2-predict.json", body=json.dumps({"text": secret * 5000})), LambdaContext()
    )
    out = capsys.readouterr().out
    assert "4111" not in out and len(emf_documents(out)) == 2
