"""The API's EMF metrics, several requests per record (``textclf_api.metrics``): documented names,
units and dimensions, value arrays whose statistics equal one line per request, and the rules
that write the buffer (count, minute, failure, shutdown)."""

from __future__ import annotations

import signal
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.cfn import load_template
from tests.emf import dimension_sets, emf_documents, metrics_of
from textclf import metrics as core
from textclf.settings import Settings
from textclf_api import metrics
from textclf_api.metrics import MetricsBuffer, RequestMetrics

T0 = 1_764_470_400.0  # 2025-11-30 02:40:00 UTC, the start of a minute


class Clock:
    def __init__(self, now: float = T0 + 5) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture(autouse=True)
def _metrics_on(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.delenv("POWERTOOLS_METRICS_DISABLED", raising=False)
    monkeypatch.setenv("POWERTOOLS_SERVICE_NAME", "textclf-api")
    core.configure()
    yield
    monkeypatch.undo()
    core.configure()


def prediction(label: str, latency: float = 0.1) -> RequestMetrics:
    request = RequestMetrics()
    request.predicted([label], latency)
    return request


def written(capsys: pytest.CaptureFixture[str]) -> list[dict[str, Any]]:
    return emf_documents(capsys.readouterr().out)


def by_shape(docs: list[dict[str, Any]]) -> dict[tuple[tuple[str, ...], str | None], dict[str, Any]]:
    shapes = {}
    for doc in docs:
        names = tuple(m["Name"] for m in doc["_aws"]["CloudWatchMetrics"][0]["Metrics"])
        extra = dimension_sets(doc)[-1][-1] if len(dimension_sets(doc)) > 1 else None
        shapes[(names, doc.get(extra) if extra else None)] = doc
    return shapes


def test_one_request_per_record_writes_each_request_at_once(capsys: pytest.CaptureFixture[str]) -> None:
    buffer = MetricsBuffer(max_requests=1, clock=Clock())
    prediction("billing", 0.25).emit(200, None, buffer)
    [doc] = written(capsys)
    assert doc["Predictions"] == 1 and doc["PredictionLatency"] == 0.25  # plain numbers, as before
    assert dimension_sets(doc) == [["service"], ["service", "label"]]
    assert (doc["service"], doc["label"]) == ("textclf-api", "billing")
    units = {m["Name"]: m["Unit"] for m in doc["_aws"]["CloudWatchMetrics"][0]["Metrics"]}
    assert units == {"Predictions": "Count", "PredictionLatency": "Milliseconds"}


def test_requests_are_held_until_the_count_then_written_as_arrays(capsys: pytest.CaptureFixture[str]) -> None:
    labels = ["billing", "shipping", "billing", "billing", "account", "shipping", "billing", "x", "y"]
    buffer = MetricsBuffer(max_requests=10, clock=Clock())
    for i, label in enumerate(labels):
        prediction(label, 0.1 * (i + 1)).emit(200, None, buffer)
    assert written(capsys) == [] and buffer.pending == 9
    RequestMetrics().emit(422, "validation-error", buffer)
    shapes = by_shape(written(capsys))
    assert buffer.pending == 0
    billing = shapes[(("Predictions", "PredictionLatency"), "billing")]
    assert billing["Predictions"] == [1, 1, 1, 1]  # one sample per request: sum 4, sample count 4
    assert billing["PredictionLatency"] == pytest.approx([0.1, 0.3, 0.4, 0.7])
    assert shapes[(("Predictions", "PredictionLatency"), "shipping")]["Predictions"] == [1, 1]
    assert shapes[(("Predictions", "PredictionLatency"), "x")]["Predictions"] == 1
    problem = shapes[(("Problems",), "validation-error")]
    assert problem["Problems"] == 1 and dimension_sets(problem) == [["service"], ["service", "problem"]]
    assert sum(metrics_of(d).get("Predictions", 0) for d in shapes.values()) == len(labels)


def test_a_failure_is_written_at_once_with_what_was_held(capsys: pytest.CaptureFixture[str]) -> None:
    buffer = MetricsBuffer(max_requests=10, clock=Clock())
    prediction("billing").emit(200, None, buffer)
    prediction("billing").emit(200, None, buffer)
    assert written(capsys) == []
    RequestMetrics().emit(500, "internal-error", buffer)
    shapes = by_shape(written(capsys))
    assert shapes[(("Failures",), None)]["Failures"] == 1
    assert dimension_sets(shapes[(("Failures",), None)]) == [["service"]]
    assert shapes[(("Predictions", "PredictionLatency"), "billing")]["Predictions"] == [1, 1]
    assert buffer.pending == 0


def test_a_new_minute_writes_the_previous_one_with_its_own_timestamp(
    capsys: pytest.CaptureFixture[str],
) -> None:
    clock = Clock(T0 + 10.5)
    buffer = MetricsBuffer(max_requests=10, clock=clock)
    prediction("billing").emit(200, None, buffer)
    clock.now = T0 + 59.9
    prediction("billing").emit(200, None, buffer)
    assert written(capsys) == []
    clock.now = T0 + 60.0  # the next minute
    prediction("shipping").emit(200, None, buffer)
    [doc] = written(capsys)
    assert doc["label"] == "billing" and doc["Predictions"] == [1, 1]
    assert doc["_aws"]["Timestamp"] == int((T0 + 10.5) * 1000)  # the first request's time
    buffer.flush()
    [doc] = written(capsys)
    assert doc["label"] == "shipping" and doc["_aws"]["Timestamp"] == int((T0 + 60) * 1000)


def test_a_batch_request_records_latency_once_and_predictions_per_label(
    capsys: pytest.CaptureFixture[str],
) -> None:
    buffer = MetricsBuffer(max_requests=3, clock=Clock())
    for _ in range(3):
        request = RequestMetrics()
        request.predicted(["billing", "shipping", "billing"], 0.5)
        request.emit(200, None, buffer)
    shapes = by_shape(written(capsys))
    assert set(shapes) == {
        (("PredictionLatency",), None),
        (("Predictions",), "billing"),
        (("Predictions",), "shipping"),
    }
    assert shapes[(("PredictionLatency",), None)]["PredictionLatency"] == [0.5, 0.5, 0.5]
    assert dimension_sets(shapes[(("PredictionLatency",), None)]) == [["service"]]
    assert shapes[(("Predictions",), "billing")]["Predictions"] == [2, 2, 2]
    assert shapes[(("Predictions",), "shipping")]["Predictions"] == [1, 1, 1]


def test_requests_without_metrics_are_not_counted(capsys: pytest.CaptureFixture[str]) -> None:
    """/health, /docs: nothing recorded, nothing held."""
    buffer = MetricsBuffer(max_requests=2, clock=Clock())
    for _ in range(5):
        RequestMetrics().emit(200, None, buffer)
    assert buffer.pending == 0 and written(capsys) == []


def test_metrics_disabled_holds_and_writes_nothing(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("POWERTOOLS_METRICS_DISABLED", "true")
    core.configure()
    buffer = MetricsBuffer(max_requests=1, clock=Clock())
    prediction("billing").emit(200, None, buffer)
    RequestMetrics().emit(500, None, buffer)
    assert buffer.pending == 0 and written(capsys) == []


@pytest.mark.parametrize("size", [0, 101, -1])
def test_the_buffer_size_is_1_to_100(size: int) -> None:
    """EMF holds at most 100 values per metric in one record."""
    with pytest.raises(ValueError, match="1 to 100"):
        MetricsBuffer(max_requests=size)


def test_the_writer_refuses_more_values_than_emf_allows() -> None:
    with pytest.raises(ValueError, match="1 to 100"):
        core.emit({"Predictions": [1] * 101})


@settings(max_examples=60, deadline=None)
@given(
    size=st.integers(1, 100),
    requests=st.lists(
        st.tuples(st.sampled_from(["a", "b", "c"]), st.integers(200, 599), st.integers(0, 150)), max_size=250
    ),
)
def test_any_traffic_is_written_whole_within_the_limits(
    size: int, requests: list[tuple[str, int, int]]
) -> None:
    """Generated traffic (labels, statuses, seconds apart): after a final flush, the records hold
    exactly the requests' values, never more than 100 per metric, each in its request's minute."""
    clock = Clock()
    out: list[tuple[dict[str, Any], tuple[str, str] | None, int | None]] = []
    buffer = MetricsBuffer(max_requests=size, clock=clock)
    original = metrics.record

    def keep(values: Any, dimension: Any = None, timestamp_ms: int | None = None) -> str:
        out.append(({k: list(v) for k, v in values.items()}, dimension, timestamp_ms))
        return ""

    metrics.record = keep  # type: ignore[assignment]
    try:
        expected = {"Predictions": 0, "Problems": 0, "Failures": 0}
        minutes: dict[int, int] = {}
        for label, status, gap in requests:
            clock.now += gap
            request = prediction(label)
            request.emit(status, "validation-error" if status < 500 else None, buffer)
            kind = "Failures" if status >= 500 else "Problems" if status >= 400 else "Predictions"
            expected[kind] += 1
            minute = int(clock.now * 1000) // 60_000
            minutes[minute] = minutes.get(minute, 0) + 1
            if status >= 500:
                assert buffer.pending == 0
        buffer.flush()
    finally:
        metrics.record = original  # type: ignore[assignment]
    totals = {"Predictions": 0, "Problems": 0, "Failures": 0}
    per_minute: dict[int, int] = {}
    for values, _, timestamp in out:
        assert timestamp is not None
        for name, numbers in values.items():
            assert 1 <= len(numbers) <= 100
            if name in totals:
                totals[name] += sum(numbers)
                per_minute[timestamp // 60_000] = per_minute.get(timestamp // 60_000, 0) + len(numbers)
    assert totals == expected
    assert per_minute == minutes  # every value is published in its own request's minute


def test_the_template_default_is_the_settings_default() -> None:
    """What `make bench` measures (the template's default) is what the code falls back to."""
    parameter = load_template()["Parameters"]["MetricsFlushRequests"]
    assert parameter["Default"] == Settings.model_fields["metrics_flush_requests"].default == 10
    assert (parameter["MinValue"], parameter["MaxValue"]) == (1, 100)


def test_shutdown_writes_what_is_held(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """In a Lambda runtime: at exit and on SIGTERM (then the default action, termination)."""
    registered: list[Any] = []
    raised: list[int] = []
    monkeypatch.setattr(metrics.atexit, "register", registered.append)
    monkeypatch.setattr(metrics.signal, "raise_signal", raised.append)
    monkeypatch.setenv("AWS_LAMBDA_RUNTIME_API", "127.0.0.1:9001")
    previous = signal.getsignal(signal.SIGTERM)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    try:
        buffer = MetricsBuffer(max_requests=10, clock=Clock())
        assert metrics.flush_at_shutdown(buffer)
        assert registered == [buffer.flush]
        prediction("billing").emit(200, None, buffer)
        assert written(capsys) == []
        handler = signal.getsignal(signal.SIGTERM)
        assert callable(handler)
        handler(signal.SIGTERM, None)
        [doc] = written(capsys)
        assert doc["label"] == "billing" and buffer.pending == 0
        assert raised == [signal.SIGTERM] and signal.getsignal(signal.SIGTERM) == signal.SIG_DFL
    finally:
        signal.signal(signal.SIGTERM, previous)


def test_outside_lambda_or_with_a_sigterm_handler_only_exit_is_hooked(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    registered: list[Any] = []
    monkeypatch.setattr(metrics.atexit, "register", registered.append)
    monkeypatch.delenv("AWS_LAMBDA_RUNTIME_API", raising=False)
    previous = signal.getsignal(signal.SIGTERM)
    try:
        assert not metrics.flush_at_shutdown(MetricsBuffer())
        monkeypatch.setenv("AWS_LAMBDA_RUNTIME_API", "127.0.0.1:9001")
        mine = lambda signum, frame: None  # noqa: E731
        signal.signal(signal.SIGTERM, mine)
        assert not metrics.flush_at_shutdown(MetricsBuffer())
        assert signal.getsignal(signal.SIGTERM) is mine and len(registered) == 2
    finally:
        signal.signal(signal.SIGTERM, previous)
