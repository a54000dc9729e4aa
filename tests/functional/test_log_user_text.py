"""LOG_USER_TEXT for the API: request texts reach the logs only when it is true (issue 12, fault 8).

The batch side (a header's column names in error messages) is tested in
tests/integration/test_batch_faults.py.
"""

from __future__ import annotations

import logging

import pytest
from fastapi.testclient import TestClient

from tests.helpers import load_function

SECRET = "Jane Doe at 12 Rose Lane wants a refund"


@pytest.mark.parametrize("enabled", [False, True])
def test_request_texts_are_logged_only_when_log_user_text_is_true(
    model_dir, clean_env, capsys: pytest.CaptureFixture[str], enabled: bool
) -> None:
    clean_env.setenv("MODEL_DIR", str(model_dir))
    if enabled:
        clean_env.setenv("LOG_USER_TEXT", "true")
    client = TestClient(load_function("api").app)
    records: list[logging.LogRecord] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            records.append(record)

    http_logger, keep = logging.getLogger("textclf_api"), Keep(logging.DEBUG)
    level = http_logger.level
    http_logger.setLevel(logging.DEBUG)  # everything the module could log
    http_logger.addHandler(keep)
    try:
        assert client.post("/predict", json={"text": SECRET}).status_code == 200
        assert (
            client.post("/predict/batch", json={"texts": [SECRET, "where is my parcel"]}).status_code == 200
        )
        assert client.post("/predict", json={"text": SECRET, "extra": 1}).status_code == 422
    finally:
        http_logger.setLevel(level)
        http_logger.removeHandler(keep)
    logged = [r for r in records if r.getMessage() == "prediction"]
    assert [r.getMessage() for r in records].count("request") == 3  # the logs are captured
    if enabled:
        assert [r.texts for r in logged] == [[SECRET], [SECRET, "where is my parcel"]]  # type: ignore[attr-defined]
        assert all(len(r.labels) == len(r.texts) for r in logged)  # type: ignore[attr-defined]
    else:
        assert logged == []
        assert "Rose Lane" not in repr([r.__dict__ for r in records]) + "".join(capsys.readouterr())
