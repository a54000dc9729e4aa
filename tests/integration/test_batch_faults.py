"""Issue 12: files real tools write, and S3 events in any order, through the batch function in moto.

Every example of the issue is a test here with its exact counts, outputs and messages; each
kind (line ends, encodings, delimiters, oversized records, event order) is also covered by
generated variations. Outputs are recounted independently: the input is parsed again with
Python's ``csv`` module (or ``json``) and compared record by record with what was published.
"""

from __future__ import annotations

import csv
import io
import itertools
import json
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from botocore.awsrequest import AWSResponse

from tests.helpers import BUNDLED_DATA
from tests.integration.conftest import Batch, allowed, batch_policy
from tests.integration.helpers import counts, run
from textclf.settings import get_settings
from textclf_batch import BatchProcessingError

pytestmark = pytest.mark.integration

with BUNDLED_DATA.open(encoding="utf-8", newline="") as _data:
    TEXTS = [row["text"] for row in csv.DictReader(_data)][:30]
KEY = "incoming/tickets.csv"
OUT = "predictions/tickets.csv"


@contextmanager
def configured(batch: Batch, env: pytest.MonkeyPatch, **values: str) -> Iterator[None]:
    """The function re-imported with these environment variables (as a new Lambda config would)."""
    for name, value in values.items():
        env.setenv(name, value)
    get_settings.cache_clear()
    batch.load()
    try:
        yield
    finally:
        for name in values:
            env.delenv(name)
        get_settings.cache_clear()


def outputs(batch: Batch, key: str = OUT) -> tuple[list[list[str]], list[dict[str, Any]], dict[str, Any]]:
    """(predictions rows incl. header, errors lines, summary) as published."""
    rows = list(csv.reader(io.StringIO(batch.read(key).decode("utf-8"), newline="")))
    return rows, batch.errors(f"{key}.errors.jsonl"), batch.summary(f"{key}.summary.json")


def labels(batch: Batch, texts: list[str]) -> list[str]:
    return [p["label"] for p in batch.module.predictor.predict(texts)]


def reference_records(text: str, delimiter: str = ",") -> list[list[str]]:
    """The records Python's csv module finds (the independent recount), header excluded."""
    return [r for r in csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, strict=True) if r][1:]


# -- 1, 2: versions and event order ----------------------------------------------------------


def version_metadata(batch: Batch, key: str) -> str:
    return str(batch.s3.head_object(Bucket=batch.bucket, Key=key)["Metadata"]["input-version-id"])


def test_1_a_late_event_for_an_older_version_never_replaces_newer_outputs(batch: Batch) -> None:
    v1 = batch.put(KEY, b"text,id\nwhere is my parcel,1\n")
    v2_body = b"text,id\nrefund please,2\nmy card was charged twice,3\n"
    v2 = batch.put(KEY, v2_body)
    first = batch.invoke(batch.event(KEY, v2, len(v2_body)))["results"][0]
    late = batch.invoke(batch.event(KEY, v1, 30))["results"][0]

    assert (first["status"], late["status"]) == ("ok", "superseded")
    assert late["outputs"] == {"predictions": None, "errors": None, "summary": None}
    rows, errors, summary = outputs(batch)
    assert [r[:2] for r in rows] == [
        ["text", "id"],
        ["refund please", "2"],
        ["my card was charged twice", "3"],
    ]
    assert errors == []
    assert summary["status"] == "ok" and summary["input"]["version_id"] == v2["VersionId"]
    for key in (OUT, f"{OUT}.errors.jsonl", f"{OUT}.summary.json"):
        assert version_metadata(batch, key) == v2["VersionId"]


@pytest.mark.parametrize("order", list(itertools.permutations(range(3))))
def test_1_in_any_event_order_the_outputs_end_on_the_newest_version(
    batch: Batch, order: tuple[int, ...]
) -> None:
    bodies = [csv_bytes([["text", "n"]] + [[TEXTS[i + k], str(i)] for k in range(i + 1)]) for i in range(3)]
    puts = [batch.put(KEY, body) for body in bodies]
    statuses = {}
    for i in order:
        statuses[i] = batch.invoke(batch.event(KEY, puts[i], len(bodies[i])))["results"][0]["status"]
    assert statuses == {0: "superseded", 1: "superseded", 2: "ok"}
    rows, _, summary = outputs(batch)
    assert rows[1:] == [[t, "2", *lbl] for t, lbl in zip(TEXTS[2:5], _scored(batch, TEXTS[2:5]), strict=True)]
    assert summary["input"]["version_id"] == puts[2]["VersionId"] == version_metadata(batch, OUT)


def _scored(batch: Batch, texts: list[str]) -> list[list[str]]:
    return [
        [p["label"], repr(round(p["scores"][p["label"]], 6))] for p in batch.module.predictor.predict(texts)
    ]


def csv_bytes(rows: list[list[str]], **kwargs: Any) -> bytes:
    buffer = io.StringIO()
    csv.writer(buffer, **kwargs).writerows(rows)
    return buffer.getvalue().encode("utf-8")


@pytest.mark.parametrize("moment", ["PutObject", "summary"])
def test_1_a_run_that_loses_a_race_to_a_newer_version_publishes_nothing(batch: Batch, moment: str) -> None:
    """v2 is uploaded and fully processed while v1's run is publishing: the conditional writes catch it."""
    v1_body = csv_bytes([["text"], [TEXTS[0]]])
    v2_body = csv_bytes([["text"], [TEXTS[1]], [TEXTS[2]]])
    v1 = batch.put(KEY, v1_body)
    fired: list[str] = []

    def newer_version_arrives(params: dict[str, Any], **_: Any) -> None:
        key = params.get("Key", "")
        target = f"{OUT}.summary.json" if moment == "summary" else OUT
        if fired or key != target:
            return
        fired.append(key)
        v2 = batch.put(KEY, v2_body)
        assert batch.invoke(batch.event(KEY, v2, len(v2_body)))["results"][0]["status"] == "ok"

    batch.module.s3.meta.events.register("provide-client-params.s3.PutObject", newer_version_arrives)
    result = batch.invoke(batch.event(KEY, v1, len(v1_body)))["results"][0]

    assert fired and result["status"] == "superseded"
    rows, errors, summary = outputs(batch)
    assert [r[0] for r in rows[1:]] == TEXTS[1:3]
    assert summary["input"]["version_id"] != v1["VersionId"]
    for key in (OUT, f"{OUT}.errors.jsonl", f"{OUT}.summary.json"):
        assert version_metadata(batch, key) == summary["input"]["version_id"]
    # what v1's run had published before it lost was removed by version id, nothing else
    versions = batch.s3.list_object_versions(Bucket=batch.bucket, Prefix="predictions/")
    assert all(v["IsLatest"] for v in versions.get("Versions", []))


def test_1_a_race_between_two_runs_of_the_same_version_is_retried_not_lost(batch: Batch) -> None:
    body = csv_bytes([["text"], [TEXTS[0]], [TEXTS[1]]])
    put = batch.put(KEY, body)
    event = batch.event(KEY, put, len(body))
    fired: list[str] = []

    def duplicate_delivery(params: dict[str, Any], **_: Any) -> None:
        if not fired and params.get("Key") == OUT:
            fired.append(OUT)
            assert batch.invoke(event)["results"][0]["status"] == "ok"

    batch.module.s3.meta.events.register("provide-client-params.s3.PutObject", duplicate_delivery)
    with pytest.raises(BatchProcessingError, match="another run published"):
        batch.invoke(event)  # 412 while still current: Lambda retries the event
    assert batch.invoke(event)["results"][0]["status"] == "ok"  # the retry
    rows, errors, summary = outputs(batch)
    assert counts(summary) == (2, 2, 0) and errors == []
    assert [r[0] for r in rows[1:]] == TEXTS[:2]
    assert summary["input"]["version_id"] == put["VersionId"] == version_metadata(batch, OUT)


def test_2_a_failed_newer_version_withdraws_the_older_predictions(batch: Batch) -> None:
    assert run(batch, KEY, b"text,id\nwhere is my parcel,1\n")["status"] == "ok"
    v2 = run(batch, KEY, b"id,body\n2,refund please\n")  # readable bytes, but no text column

    assert v2["status"] == "failed" and v2["error"]["reason"] == "missing_text_column"
    assert OUT not in batch.keys("predictions/")  # withdrawn (a delete marker keeps the history)
    summary = batch.summary(f"{OUT}.summary.json")
    head = batch.s3.head_object(Bucket=batch.bucket, Key=KEY)
    assert (summary["status"], summary["input"]["version_id"]) == ("failed", head["VersionId"])
    assert summary["outputs"]["predictions"] is None
    assert batch.errors(f"{OUT}.errors.jsonl") == [{"line": None, **summary["error"]}]
    for key in (f"{OUT}.errors.jsonl", f"{OUT}.summary.json"):
        assert version_metadata(batch, key) == head["VersionId"]
    markers = batch.s3.list_object_versions(Bucket=batch.bucket, Prefix=OUT)["DeleteMarkers"]
    assert [(m["Key"], m["IsLatest"]) for m in markers] == [(OUT, True)]

    # the older version's late event changes nothing
    old = batch.s3.list_object_versions(Bucket=batch.bucket, Prefix=KEY)["Versions"][-1]
    event = batch.event(KEY, {"ETag": old["ETag"], "VersionId": old["VersionId"]}, old["Size"])
    assert batch.invoke(event)["results"][0]["status"] == "superseded"
    assert OUT not in batch.keys("predictions/")


def test_2_a_deleted_key_skips_its_events(batch: Batch) -> None:
    body = csv_bytes([["text"], [TEXTS[0]]])
    put = batch.put(KEY, body)
    batch.s3.delete_object(Bucket=batch.bucket, Key=KEY)  # a delete marker: no current version
    assert batch.invoke(batch.event(KEY, put, len(body)))["results"][0]["status"] == "skipped"
    assert batch.keys("predictions/") == []


# -- 3, 4: oversized lines and records never move record boundaries ---------------------------


def test_3_a_long_line_inside_quotes_is_one_rejected_record(
    batch: Batch, batch_env: pytest.MonkeyPatch
) -> None:
    body = b'text,id\n"hello\n' + b"x" * 2000 + b'",1\nrefund please,2\nwhere is my parcel,3\n'
    with configured(batch, batch_env, MAX_LINE_BYTES="1024"):
        run(batch, KEY, body)
    rows, errors, summary = outputs(batch)
    assert counts(summary) == (3, 2, 1)
    assert errors == [
        {
            "line": 2,
            "end_line": 3,
            "row": 1,
            "reason": "line_too_long",
            "detail": "a line of the record on lines 2-3 is longer than 1024 bytes",
        }
    ]
    assert [r[:2] for r in rows[1:]] == [["refund please", "2"], ["where is my parcel", "3"]]


def test_4_a_multi_line_field_over_the_limit_is_rejected_once(
    batch: Batch, batch_env: pytest.MonkeyPatch
) -> None:
    field = "\n".join("y" * 1000 for _ in range(25))
    body = f'text,note\nwhere is my parcel,"{field}"\nrefund please,ok\n'.encode()
    with configured(batch, batch_env, MAX_LINE_BYTES="1024"):
        run(batch, KEY, body)
    rows, errors, summary = outputs(batch)
    assert counts(summary) == (2, 1, 1)
    assert errors == [
        {
            "line": 2,
            "end_line": 26,
            "row": 1,
            "reason": "record_too_long",
            "detail": "the record on lines 2-26 is longer than 1024 bytes",
        }
    ]
    assert rows[1][:2] == ["refund please", "ok"]


def test_4_at_default_settings_a_1_1_mb_cell_is_rejected_once_and_never_scored_in_pieces(
    batch: Batch,
) -> None:
    cell = "\r\n".join(f"fragment {i} " + "z" * 90 for i in range(11_000))  # 1.1 MB over 11,000 lines
    body = f'text\n"{cell}"\nwhere is my parcel\n'.encode()
    assert len(body) > 1_100_000
    run(batch, KEY, body)
    rows, errors, summary = outputs(batch)
    assert counts(summary) == (2, 1, 1)
    assert [(e["line"], e["end_line"], e["reason"]) for e in errors] == [(2, 11_001, "record_too_long")]
    assert rows[1:] == [["where is my parcel", *_scored(batch, ["where is my parcel"])[0]]]


# -- 5: line ends ------------------------------------------------------------------------


@pytest.mark.parametrize("ending", ["\n", "\r", "\r\n", "mixed"])
@pytest.mark.parametrize("fmt", ["csv", "jsonl"])
def test_5_cr_lf_crlf_and_mixed_line_ends_are_all_read(batch: Batch, ending: str, fmt: str) -> None:
    ends = itertools.cycle(["\n", "\r", "\r\n"]) if ending == "mixed" else itertools.repeat(ending)
    texts = TEXTS[:12]
    if fmt == "csv":
        lines = ["text,id", *(f'"{t}",{i}' for i, t in enumerate(texts))]
    else:
        lines = [json.dumps({"text": t, "id": i}) for i, t in enumerate(texts)]
    body = "".join(line + next(ends) for line in lines).encode()
    key = f"incoming/ends.{fmt}"
    assert run(batch, key, body)["status"] == "ok"
    summary = batch.summary(f"predictions/ends.{fmt}.summary.json")
    assert counts(summary) == (12, 12, 0)
    if fmt == "csv":
        rows = list(csv.reader(io.StringIO(batch.read("predictions/ends.csv").decode(), newline="")))
        assert [r[0] for r in rows[1:]] == texts
    else:
        out = [json.loads(line) for line in batch.read("predictions/ends.jsonl").decode().splitlines()]
        assert [o["text"] for o in out] == texts


def test_5_the_issue_example_cr_only(batch: Batch) -> None:
    run(batch, KEY, b"text,id\rwhere is my parcel,1\rrefund please,2\r")
    rows, errors, summary = outputs(batch)
    assert counts(summary) == (2, 2, 0) and errors == []
    assert [r[:2] for r in rows[1:]] == [["where is my parcel", "1"], ["refund please", "2"]]


def test_5_a_large_cr_only_file_is_not_one_long_line(batch: Batch) -> None:
    rows = [[TEXTS[i % len(TEXTS)], str(i)] for i in range(20_000)]
    body = csv_bytes([["text", "id"], *rows], lineterminator="\r")
    assert len(body) > 1_500_000
    run(batch, KEY, body)
    out, errors, summary = outputs(batch)
    assert counts(summary) == (20_000, 20_000, 0) and errors == []
    assert [r[:2] for r in out[1:]] == rows


def test_5_quoted_line_breaks_of_every_kind_are_kept_inside_fields(batch: Batch) -> None:
    texts = ["first line\rsecond", "a\r\nb", "c\nd", "e\r\rf\n\ng"]
    body = csv_bytes([["text", "n"], *[[t, str(i)] for i, t in enumerate(texts)]], lineterminator="\r")
    run(batch, KEY, body)
    rows, _, summary = outputs(batch)
    assert counts(summary) == (4, 4, 0)
    assert [r[0] for r in rows[1:]] == texts


# -- 6: encodings ----------------------------------------------------------------------------


@pytest.mark.parametrize("encoding", ["utf-8-sig", "utf-16", "utf-16-le", "utf-16-be", "utf-32", "utf-32-be"])
@pytest.mark.parametrize("fmt", ["csv", "jsonl"])
def test_6_utf16_and_utf32_with_a_byte_order_mark_read_like_utf8(
    batch: Batch, encoding: str, fmt: str
) -> None:
    texts = ["où est mon colis ?", "Rückerstattung bitte", "退款", "refund 💸 please"]
    if fmt == "csv":
        text = "text,id\r\n" + "".join(f"{t},{i}\r\n" for i, t in enumerate(texts))
    else:
        text = "".join(
            json.dumps({"text": t, "id": i}, ensure_ascii=False) + "\n" for i, t in enumerate(texts)
        )
    bom = {"utf-16-le": b"\xff\xfe", "utf-16-be": b"\xfe\xff", "utf-32-be": b"\x00\x00\xfe\xff"}.get(
        encoding, b""
    )
    body = bom + text.encode(encoding)
    key = f"incoming/enc.{fmt}"
    assert run(batch, key, body)["status"] == "ok"
    summary = batch.summary(f"predictions/enc.{fmt}.summary.json")
    assert counts(summary) == (4, 4, 0)
    assert summary["input"]["encoding"] == ("UTF-8" if encoding == "utf-8-sig" else encoding[:6].upper())
    out = batch.read(f"predictions/enc.{fmt}").decode("utf-8")  # outputs are always UTF-8
    assert all(t in out for t in texts)


@pytest.mark.parametrize(
    ("body", "reason", "message"),
    [
        ("text,id\nwhere is my parcel,1\n".encode("utf-16-le"), "wrong_encoding", "UTF-16 (little-endian)"),
        ("text,id\nwhere is my parcel,1\n".encode("utf-16-be"), "wrong_encoding", "UTF-16 (big-endian)"),
        ("text,id\nwhere is my parcel,1\n".encode("utf-32-le"), "wrong_encoding", "UTF-32 (little-endian)"),
        ("tëxt,id\nwhere is my parcel,1\n".encode("latin-1"), "wrong_encoding", "not UTF-8 text (byte 0xeb"),
        (
            "text,note\nœuvre,“quoted”\n".encode("cp1252")[:0] + "tèxt\n".encode("cp1252"),
            "wrong_encoding",
            "0xe8",
        ),
    ],
)
def test_6_a_file_that_is_not_utf8_is_told_so_never_about_columns_or_newlines(
    batch: Batch, body: bytes, reason: str, message: str
) -> None:
    result = run(batch, KEY, body)
    assert (result["status"], result["error"]["reason"]) == ("failed", reason)
    assert message in result["error"]["message"] and "save" in result["error"]["message"]
    for wrong in ("column", "newline", "TEXT_COLUMN"):
        assert wrong not in result["error"]["message"]


def test_6_rows_with_bytes_that_are_not_utf8_are_rejected_one_by_one(batch: Batch) -> None:
    body = b"text,id\nwhere is my parcel,1\ncaf\xe9 cr\xe8me,2\nrefund please,3\n"
    run(batch, KEY, body)
    _, errors, summary = outputs(batch)
    assert counts(summary) == (3, 2, 1)
    assert errors == [
        {
            "line": 3,
            "row": 2,
            "reason": "undecodable_bytes",
            "detail": "line 3 is not valid UTF-8 (byte 0xe9 at character 4); save the file as UTF-8",
        }
    ]


def test_6_a_bad_byte_inside_a_multi_line_record_names_its_own_line(batch: Batch) -> None:
    body = b'text,id\nwhere is my parcel,1\n"first line\nsecond caf\xe9",2\nrefund please,3\n'
    run(batch, KEY, body)
    _, errors, summary = outputs(batch)
    assert counts(summary) == (3, 2, 1)
    assert errors == [
        {
            "line": 3,
            "end_line": 4,
            "row": 2,
            "reason": "undecodable_bytes",
            "detail": "line 4 is not valid UTF-8 (byte 0xe9 at character 11); save the file as UTF-8",
        }
    ]


# -- 7: delimiters ---------------------------------------------------------------------------


@pytest.mark.parametrize("delimiter", [",", ";", "\t", "|"])
@pytest.mark.parametrize("how", ["detected", "sep-line", "setting"])
def test_7_every_supported_delimiter_keeps_the_columns_apart(
    batch: Batch, batch_env: pytest.MonkeyPatch, delimiter: str, how: str
) -> None:
    texts = ["where is my parcel", "refund, please; now | asap\tthanks", "my card was charged twice"]
    data = [["id", "text", "channel"], *[[str(i), t, "email"] for i, t in enumerate(texts)]]
    body = csv_bytes(data, delimiter=delimiter, lineterminator="\r\n")
    if how == "sep-line":
        body = f"sep={delimiter}\r\n".encode() + body
    env = {"CSV_DELIMITER": "tab" if delimiter == "\t" else delimiter} if how == "setting" else {}
    with configured(batch, batch_env, **env):
        run(batch, KEY, b"\xef\xbb\xbf" + body)
    raw = batch.read(OUT).decode()
    if how == "sep-line":
        assert raw.startswith(f"sep={delimiter}\r\n")
        raw = raw.split("\r\n", 1)[1]
    rows = list(csv.reader(io.StringIO(raw, newline=""), delimiter=delimiter))
    summary = batch.summary(f"{OUT}.summary.json")
    assert counts(summary) == (3, 3, 0)
    assert summary["input"]["delimiter"] == delimiter
    assert rows[0] == ["id", "text", "channel", "label", "score"]
    assert [r[:3] for r in rows[1:]] == data[1:]
    assert [r[3] for r in rows[1:]] == labels(batch, texts)


def test_7_the_issue_example_semicolons_with_a_bom(batch: Batch) -> None:
    run(batch, KEY, "\ufefftext;id\r\nwhere is my parcel;1\r\n".encode())
    raw = batch.read(OUT).decode()
    rows = list(csv.reader(io.StringIO(raw, newline=""), delimiter=";"))
    assert rows == [
        ["text", "id", "label", "score"],
        ["where is my parcel", "1", *_scored(batch, ["where is my parcel"])[0]],
    ]


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (b"body;id\nwhere is my parcel;1\n", "2 column(s) separated by ';' (detected)"),
        (b"id\tbody\n1\twhere is my parcel\n", "2 column(s) separated by tab (detected)"),
        (b"text:id\nwhere is my parcel:1\n", "set CSV_DELIMITER"),
    ],
)
def test_7_a_missing_text_column_gets_advice_that_fits_the_file(
    batch: Batch, body: bytes, expected: str
) -> None:
    result = run(batch, KEY, body)
    message = result["error"]["message"]
    assert result["error"]["reason"] == "missing_text_column"
    assert expected in message and "TEXT_COLUMN" in message


# -- 8: no user text in logs, summaries, errors or exceptions unless LOG_USER_TEXT=true ---------


def test_8_a_headerless_csv_never_echoes_its_first_row(
    batch: Batch, caplog: pytest.LogCaptureFixture, capsys: pytest.CaptureFixture[str]
) -> None:
    secret = "Jane Doe, 12 Rose Lane, card 4111"
    body = csv_bytes([[secret, "1"], ["refund please", "2"]])
    with caplog.at_level(logging.DEBUG):
        result = batch.upload_and_invoke(KEY, body)
    published = b"".join(batch.read(k) for k in batch.keys("predictions/")).decode()
    seen = [json.dumps(result), published, caplog.text, *capsys.readouterr()]
    assert result["results"][0]["error"]["reason"] == "missing_text_column"
    for where in seen:
        for word in ("Jane", "Rose", "4111", "refund please"):
            assert word not in where
    assert "2 column(s)" in result["results"][0]["error"]["message"]


def test_8_log_user_text_true_names_the_columns(batch: Batch, batch_env: pytest.MonkeyPatch) -> None:
    with configured(batch, batch_env, LOG_USER_TEXT="true"):
        result = run(batch, KEY, b"where is my parcel,1\n")
    assert "named 'where is my parcel', '1'" in result["error"]["message"]


# -- 9, 10: permissions and retries ----------------------------------------------------------


def test_9_the_policy_lists_only_the_two_prefixes() -> None:
    statements = batch_policy()
    bucket = "arn:aws:s3:::textclf-test-data-123456789012-us-east-1"
    assert allowed(statements, "s3:ListBucket", bucket, {"s3:prefix": "incoming/a.csv"})
    assert allowed(statements, "s3:ListBucket", bucket, {"s3:prefix": "predictions/a.csv"})
    assert not allowed(statements, "s3:ListBucket", bucket, {"s3:prefix": "secrets/"})
    assert not allowed(statements, "s3:ListBucket", bucket, {"s3:prefix": ""})
    assert not allowed(statements, "s3:ListBucket", bucket, {})
    assert not allowed(statements, "s3:GetObject", f"{bucket}/predictions/a.csv", {})
    assert not allowed(statements, "s3:DeleteObject", f"{bucket}/incoming/a.csv", {})


def _respond(status: int, code: str) -> Any:
    body = f"<Error><Code>{code}</Code><Message>{code}</Message></Error>".encode()

    class Raw:
        def stream(self, **_: Any) -> Iterator[bytes]:
            yield body

    return AWSResponse("https://s3.amazonaws.com/", status, {}, Raw())


def test_9_a_403_for_a_deleted_input_is_checked_by_listing_and_skipped(batch: Batch) -> None:
    body = csv_bytes([["text"], [TEXTS[0]]])
    put = batch.put(KEY, body)
    batch.s3.delete_object(Bucket=batch.bucket, Key=KEY)
    # S3 without s3:ListBucket: 403 instead of 404 for a key that has no current version
    batch.module.s3.meta.events.register_first("before-send.s3.HeadObject", lambda **_: _respond(403, "403"))
    assert batch.invoke(batch.event(KEY, put, len(body)))["results"][0]["status"] == "skipped"


def test_9_a_real_403_on_an_existing_input_is_not_mistaken_for_a_missing_one(batch: Batch) -> None:
    body = csv_bytes([["text"], [TEXTS[0]]])
    put = batch.put(KEY, body)
    batch.module.s3.meta.events.register_first("before-send.s3.HeadObject", lambda **_: _respond(403, "403"))
    with pytest.raises(BatchProcessingError, match="403"):
        batch.invoke(batch.event(KEY, put, len(body)))


def test_10_transient_s3_errors_are_retried_by_botocore_standard_mode(batch: Batch) -> None:
    assert batch.module.s3.meta.config.retries == {"mode": "standard", "total_max_attempts": 5}
    attempts: list[int] = []

    def slow_down(**_: Any) -> Any:
        attempts.append(1)
        return _respond(503, "SlowDown") if len(attempts) <= 2 else None

    batch.module.s3.meta.events.register_first("before-send.s3.GetObject", slow_down)
    assert run(batch, KEY, csv_bytes([["text"], [TEXTS[0]]]))["status"] == "ok"
    assert len(attempts) == 3


def test_10_a_lasting_s3_failure_fails_the_invocation_so_lambda_retries_it(batch: Batch) -> None:
    batch.module.s3.meta.events.register_first(
        "before-send.s3.GetObject", lambda **_: _respond(500, "InternalError")
    )
    with pytest.raises(BatchProcessingError, match="InternalError"):
        batch.upload_and_invoke(KEY, csv_bytes([["text"], [TEXTS[0]]]))
    summary = batch.summary(f"{OUT}.summary.json")
    assert (summary["status"], summary["error"]["reason"]) == ("failed", "ClientError")


def test_10_an_unreadable_file_is_not_retried_and_stays_visible(
    batch: Batch, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.ERROR):
        result = run(batch, "incoming/broken.csv.gz", b"not gzip at all")  # returns: no Lambda retry
    assert (result["status"], result["error"]["reason"]) == ("failed", "corrupt_gzip")
    assert batch.summary("predictions/broken.csv.gz.summary.json")["status"] == "failed"
    assert [r.levelname for r in caplog.records if "cannot be scored" in r.getMessage()] == ["ERROR"]
    gets = [op for op, _ in batch.calls if op == "GetObject"]
    assert len(gets) == 1
