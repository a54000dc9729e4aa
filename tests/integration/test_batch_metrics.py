"""The batch function's EMF metrics, through the real handler against moto: one line per file
(rows read / scored / rejected, duration, file scored or failed) and one per rejection reason."""

from __future__ import annotations

import json

import pytest

from tests.emf import dimension_sets, emf_documents, metrics_of
from tests.integration.conftest import Batch
from textclf_batch import BatchProcessingError

pytestmark = pytest.mark.integration


def test_a_scored_file_reports_its_rows_reasons_and_duration(
    batch: Batch, capsys: pytest.CaptureFixture[str]
) -> None:
    good = [json.dumps({"text": t}) for t in ("where is my parcel", "refund me", "reset my password")]
    body = "\n".join([good[0], '{"text": 1}', good[1], '{"text": "ok"', '{"nope": 2}', good[2]]) + "\n"
    capsys.readouterr()
    batch.upload_and_invoke("incoming/private/customer-4111.jsonl", body.encode())
    summary = batch.summary("predictions/private/customer-4111.jsonl.summary.json")

    out = capsys.readouterr().out
    docs = emf_documents(out)
    [file_doc] = [d for d in docs if dimension_sets(d) == [["service"]]]
    assert metrics_of(file_doc) == {
        "RowsRead": summary["rows"]["read"],
        "RowsScored": 3,
        "RowsRejected": summary["rows"]["rejected"],
        "FileDuration": pytest.approx(summary["duration_seconds"]),
        "FilesScored": 1,
    }
    assert summary["rows"]["rejected"] == 3
    by_reason = {d["reason"]: metrics_of(d)["RowsRejected"] for d in docs if "reason" in d}
    assert by_reason == summary["rejected_by_reason"] and sum(by_reason.values()) == 3
    assert all(dimension_sets(d) == [["service"], ["service", "reason"]] for d in docs if "reason" in d)
    assert "4111" not in out and "parcel" not in out  # neither the key nor a text in a metric


def test_an_unreadable_file_is_counted_as_failed(batch: Batch, capsys: pytest.CaptureFixture[str]) -> None:
    capsys.readouterr()
    batch.upload_and_invoke("incoming/empty.csv", b"")
    assert batch.summary("predictions/empty.csv.summary.json")["status"] == "failed"
    [doc] = emf_documents(capsys.readouterr().out)
    values = metrics_of(doc)
    assert values["FilesFailed"] == 1 and "FilesScored" not in values and values["RowsRead"] == 0


def test_a_transient_failure_writes_no_file_metric(
    batch: Batch, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A run that raises is retried by Lambda: not (yet) a failed file. Lambda's Errors metric
    and, after the retries, the failure queue's depth carry it (both alarmed)."""

    def broken(texts: list[str]) -> object:
        raise RuntimeError("scorer crashed")

    monkeypatch.setattr(batch.module.predictor, "score_matrix", broken)
    monkeypatch.setenv("BATCH_WORKERS", "1")
    capsys.readouterr()
    with pytest.raises(BatchProcessingError):
        batch.upload_and_invoke("incoming/a.csv", b"text\nwhere is my parcel\n")
    assert emf_documents(capsys.readouterr().out) == []
