"""Training on the real shared datasets and serving the result (skipped without ../shared)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import reset_caches
from tests.helpers import LambdaContext, load_event, load_function, response_json, shared_dataset
from training.train import TrainConfig, train

pytestmark = pytest.mark.dataset


def test_sms_spam_model_serves_v1_and_v2(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    manifest = train(TrainConfig(data=shared_dataset("sms_spam.csv"), output=tmp_path))
    assert manifest["classes"] == ["ham", "spam"]
    # the benchmark's targets (scripts/bench_accuracy.py): default settings, stratified 20% test split
    assert manifest["metrics"]["accuracy"] >= 0.98 and manifest["metrics"]["roc_auc"] >= 0.99
    assert manifest["metrics"]["roc_auc_kind"] == "binary"
    # 403 exact repeats (SOURCE file) plus texts that differ only by surrounding whitespace
    assert manifest["data"]["cleaning"]["duplicates_dropped"] >= 403
    on_disk = json.loads((tmp_path / "model" / "manifest.json").read_text())
    assert on_disk["metrics"]["macro_f1"] == manifest["metrics"]["macro_f1"]

    monkeypatch.setenv("MODEL_DIR", str(tmp_path / "model"))
    reset_caches()
    try:
        api = load_function("api")
        spam = "WINNER!! You have been selected to receive a £900 prize reward! Call 09061701461 to claim"
        for name, text in [
            ("apigw-v2-predict.json", spam),
            ("apigw-v1-predict.json", "ok see you at 7 then"),
        ]:
            event = load_event(name, body=json.dumps({"text": text}))
            response = api.handler(event, LambdaContext())
            assert response["statusCode"] == 200
            body = response_json(response)
            assert body["label"] == ("spam" if text == spam else "ham")
            assert body["model_version"] == manifest["version"]
    finally:
        reset_caches()
