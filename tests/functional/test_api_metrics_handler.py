"""The API's metrics buffer behind the real Lambda handler (``textclf_api.main``), as deployed with
``METRICS_FLUSH_REQUESTS`` above 1: requests are held and written together, a failure at once, and
the SnapStart warm-up's request is written before the snapshot."""

from __future__ import annotations

from collections.abc import Iterator
from types import ModuleType
from typing import Any

import pytest

from tests.emf import emf_documents, metrics_of
from tests.helpers import LambdaContext, load_event, response_json


@pytest.fixture
def held(api_module: ModuleType) -> Iterator[Any]:
    """The function's buffer, holding up to 3 requests (the session runs with 1)."""
    buffer = api_module.metrics_buffer
    buffer.flush()
    buffer.max_requests = 3
    yield buffer
    buffer.flush()
    buffer.max_requests = 1


def test_predictions_are_written_every_third_request(
    api_module: ModuleType, held: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    capsys.readouterr()
    labels = []
    for _ in range(2):
        labels.append(
            response_json(api_module.handler(load_event("apigw-v2-predict.json"), LambdaContext()))["label"]
        )
    assert emf_documents(capsys.readouterr().out) == [] and held.pending == 2
    api_module.handler(load_event("apigw-v2-health.json"), LambdaContext())  # no metrics, not counted
    labels.append(
        response_json(api_module.handler(load_event("apigw-v1-predict.json"), LambdaContext()))["label"]
    )
    docs = emf_documents(capsys.readouterr().out)
    assert held.pending == 0
    assert sum(metrics_of(d)["Predictions"] for d in docs) == 3
    assert sorted(
        d["label"]
        for d in docs
        for _ in range(len(d["Predictions"]) if isinstance(d["Predictions"], list) else 1)
    ) == sorted(labels)


def test_a_failure_is_written_at_once(
    api_module: ModuleType, held: Any, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    capsys.readouterr()
    api_module.handler(load_event("apigw-v2-predict.json"), LambdaContext())

    def boom(texts: list[str]) -> list[Any]:
        raise RuntimeError("model exploded")

    monkeypatch.setattr(api_module.predictor, "predict", boom)
    assert api_module.handler(load_event("apigw-v2-predict.json"), LambdaContext())["statusCode"] == 500
    docs = emf_documents(capsys.readouterr().out)
    assert held.pending == 0
    assert sorted(sorted(metrics_of(d)) for d in docs) == [["Failures"], ["PredictionLatency", "Predictions"]]


def test_the_snapstart_warm_up_is_written_before_the_snapshot(
    api_module: ModuleType, held: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    capsys.readouterr()
    api_module.before_snapshot()
    docs = emf_documents(capsys.readouterr().out)
    assert held.pending == 0 and [metrics_of(d)["Predictions"] for d in docs] == [1]
