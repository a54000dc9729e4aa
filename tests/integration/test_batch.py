"""The S3 batch function, in-process against moto: real files in, predictions, errors and summary out."""

from __future__ import annotations

import csv
import gzip
import io
import json
from typing import Any

import pytest

from tests.helpers import LambdaContext, bundled_texts
from tests.integration.conftest import Batch
from textclf.settings import SettingsError, get_settings
from textclf_batch import BatchProcessingError

pytestmark = pytest.mark.integration

TEXTS = bundled_texts()[:40]


def csv_bytes(rows: list[list[str]]) -> bytes:
    buffer = io.StringIO()
    csv.writer(buffer).writerows(rows)
    return buffer.getvalue().encode("utf-8")


def read_csv(data: bytes) -> list[list[str]]:
    return list(csv.reader(io.StringIO(data.decode("utf-8"))))


def expected(batch: Batch, texts: list[str]) -> list[tuple[str, float]]:
    predictions = batch.module.predictor.predict(texts)
    return [(p["label"], round(p["scores"][p["label"]], 6)) for p in predictions]


def assert_accounting(summary: dict[str, Any]) -> None:
    rows = summary["rows"]
    assert rows["read"] == rows["scored"] + rows["rejected"], rows
    assert sum(summary["rejected_by_reason"].values()) == rows["rejected"]


def test_csv_rows_get_label_and_score_and_keep_their_columns(batch: Batch) -> None:
    rows = [["id", "text", "channel"]] + [[str(i), t, "email"] for i, t in enumerate(TEXTS)]
    body = csv_bytes(rows)
    result = batch.upload_and_invoke("incoming/tickets.csv", body)

    assert result["results"][0]["status"] == "ok"
    out = read_csv(batch.read("predictions/tickets.csv"))
    assert out[0] == ["id", "text", "channel", "label", "score"]
    assert [r[:3] for r in out[1:]] == rows[1:]
    assert [(r[3], float(r[4])) for r in out[1:]] == expected(batch, TEXTS)

    summary = batch.summary("predictions/tickets.csv.summary.json")
    assert summary["status"] == "ok"
    assert summary["rows"] == {"read": len(TEXTS), "scored": len(TEXTS), "rejected": 0}
    assert summary["model_version"] == batch.module.predictor.version
    head = batch.s3.head_object(Bucket=batch.bucket, Key="incoming/tickets.csv")
    assert summary["input"]["etag"] == head["ETag"].strip('"')
    assert summary["input"]["version_id"] == head["VersionId"]
    assert summary["input"]["size"] == len(body)
    assert summary["duration_seconds"] >= 0
    assert batch.read("predictions/tickets.csv.errors.jsonl") == b""
    assert batch.keys() == [
        "incoming/tickets.csv",
        "predictions/tickets.csv",
        "predictions/tickets.csv.errors.jsonl",
        "predictions/tickets.csv.summary.json",
    ]


def test_bom_and_quoted_multiline_fields(batch: Batch) -> None:
    text = 'I was charged twice,\nonce on Monday and "again" on Tuesday'
    body = "\ufefftext,note\n" + f'"{text.replace('"', '""')}","a\r\nb"\r\nwhere is my parcel,x\r\n'
    batch.upload_and_invoke("incoming/bom.csv", body.encode("utf-8"))

    out = read_csv(batch.read("predictions/bom.csv"))
    assert out[0] == ["text", "note", "label", "score"]  # no BOM in the first column name
    assert [r[:2] for r in out[1:]] == [[text, "a\r\nb"], ["where is my parcel", "x"]]
    assert [r[2] for r in out[1:]] == [label for label, _ in expected(batch, [text, "where is my parcel"])]
    summary = batch.summary("predictions/bom.csv.summary.json")
    assert summary["rows"] == {"read": 2, "scored": 2, "rejected": 0}


def test_jsonl_keeps_fields_and_adds_per_class_scores(batch: Batch) -> None:
    records = [{"id": i, "text": t, "meta": {"lang": "en", "tags": ["a"]}} for i, t in enumerate(TEXTS[:10])]
    body = "".join(json.dumps(r) + "\n" for r in records).encode()
    batch.upload_and_invoke("incoming/tickets.jsonl", body)

    out = [json.loads(line) for line in batch.read("predictions/tickets.jsonl").decode().splitlines()]
    classes = list(batch.module.predictor.classes)
    assert len(out) == len(records)
    for original, scored, (label, score) in zip(records, out, expected(batch, TEXTS[:10]), strict=True):
        assert {k: scored[k] for k in original} == original
        assert (scored["label"], scored["score"]) == (label, score)
        assert list(scored["scores"]) == classes
        assert scored["scores"][label] == score
        assert sum(scored["scores"].values()) == pytest.approx(1.0, abs=1e-4)


def test_existing_label_column_is_kept_and_predictions_get_other_names(batch: Batch) -> None:
    body = csv_bytes([["text", "label"], [TEXTS[0], "billing"]])
    batch.upload_and_invoke("incoming/labelled.csv", body)
    out = read_csv(batch.read("predictions/labelled.csv"))
    assert out[0] == ["text", "label", "predicted_label", "predicted_score"]
    assert out[1][:2] == [TEXTS[0], "billing"]


@pytest.mark.parametrize("name", ["tickets.csv.gz", "tickets.jsonl.gz"])
def test_gzip_input_gives_gzip_output_equal_to_the_plain_run(batch: Batch, name: str) -> None:
    plain_name = name.removesuffix(".gz")
    if plain_name.endswith(".csv"):
        plain = csv_bytes([["text"]] + [[t] for t in TEXTS])
    else:
        plain = "".join(json.dumps({"text": t}) + "\n" for t in TEXTS).encode()
    batch.upload_and_invoke(f"incoming/{plain_name}", plain)
    # two gzip members, as `cat a.gz b.gz` makes: still one stream of lines
    half = plain.index(b"\n", len(plain) // 2) + 1
    batch.upload_and_invoke(f"incoming/{name}", gzip.compress(plain[:half]) + gzip.compress(plain[half:]))

    compressed = batch.read(f"predictions/{name}")
    assert compressed[:2] == b"\x1f\x8b"
    assert gzip.decompress(compressed) == batch.read(f"predictions/{plain_name}")
    summary = batch.summary(f"predictions/{name}.summary.json")
    assert summary["input"]["compressed"] is True
    assert summary["rows"]["scored"] == len(TEXTS)


LONG = "refund " * 800  # 5600 characters, over MAX_TEXT_CHARS=5000


@pytest.mark.parametrize(
    ("name", "body", "reason", "line", "end_line"),
    [
        ("empty.csv", b"id,text\n1,   \n", "empty_text", 2, None),
        ("empty.jsonl", b'{"text": ""}\n', "empty_text", 1, None),
        # nothing visible: zero-width space, NUL, a bidi mark (the API refuses these texts too)
        ("invisible.jsonl", b'{"text": "\\u200b\\u0000\\u200f"}\n', "empty_text", 1, None),
        ("invisible.csv", "id,text\n1,\u200b\u2060\n".encode(), "empty_text", 2, None),
        ("missing.jsonl", b'{"id": 1}\n', "missing_text", 1, None),
        ("null.jsonl", b'{"text": null}\n', "missing_text", 1, None),
        ("number.jsonl", b'{"text": 42}\n', "text_not_a_string", 1, None),
        ("long.csv", f"id,text\n1,{LONG}\n".encode(), "text_too_long", 2, None),
        ("long.jsonl", json.dumps({"text": LONG}).encode() + b"\n", "text_too_long", 1, None),
        ("latin1.csv", "id,text\n1,caf\u00e9 cr\u00e8me\n".encode("latin-1"), "undecodable_bytes", 2, None),
        ("latin1.jsonl", '{"text": "caf\u00e9"}\n'.encode("latin-1"), "undecodable_bytes", 1, None),
        ("surrogate.jsonl", b'{"text": "bad \\ud800 escape"}\n', "undecodable_bytes", 1, None),
        ("quote.csv", b'id,text\n1,"stray "quote" here"\n', "broken_csv_quoting", 2, None),
        ("unclosed.csv", b'id,text\n1,"never closed\n2,"more" text\n', "broken_csv_quoting", 2, 3),
        ("fields.csv", b"id,text\n1,hello,extra\n", "wrong_field_count", 2, None),
        ("short.csv", b"id,text\n1\n", "wrong_field_count", 2, None),
        ("invalid.jsonl", b'{"text": "ok"\n', "invalid_json", 1, None),
        ("array.jsonl", b'["text"]\n', "not_an_object", 1, None),
    ],
)
def test_each_bad_row_is_reported_with_its_line_and_reason(
    batch: Batch, name: str, body: bytes, reason: str, line: int, end_line: int | None
) -> None:
    # a good row before and after the bad one, so the bad row is neither first nor last
    if name.endswith(".csv"):
        header, rest = body.split(b"\n", 1)
        body = header + b"\n" + _good_row(header, TEXTS[0]) + rest + _good_row(header, TEXTS[1])
        line += 1
        end_line = end_line + 1 if end_line else None
    else:
        good = [json.dumps({"text": t}).encode() + b"\n" for t in TEXTS[:2]]
        body = good[0] + body + good[1]
        line += 1
    batch.upload_and_invoke(f"incoming/{name}", body)

    summary = batch.summary(f"predictions/{name}.summary.json")
    assert summary["status"] == "ok"
    assert summary["rows"] == {"read": 3, "scored": 2, "rejected": 1}
    assert summary["rejected_by_reason"] == {reason: 1}
    [error] = batch.errors(f"predictions/{name}.errors.jsonl")
    assert error["reason"] == reason
    assert error["line"] == line and error["row"] == 2
    assert error.get("end_line") == end_line
    assert error["detail"] and LONG not in error["detail"]  # the text itself is never echoed
    scored = batch.read(f"predictions/{name}").decode()
    assert TEXTS[0] in scored and TEXTS[1] in scored


def _good_row(header: bytes, text: str) -> bytes:
    columns = header.decode().split(",")
    values = [text if c == "text" else "0" for c in columns]
    return csv_bytes([values])


def test_over_long_lines_are_skipped_without_reading_them_whole(
    batch: Batch, batch_env: pytest.MonkeyPatch
) -> None:
    batch_env.setenv("MAX_LINE_BYTES", "2048")
    get_settings.cache_clear()
    try:
        batch.load()
        body = b"text\n" + b"x" * 10_000 + b"\nwhere is my parcel\n"
        batch.upload_and_invoke("incoming/huge-line.csv", body)
    finally:
        batch_env.delenv("MAX_LINE_BYTES")
        get_settings.cache_clear()
    [error] = batch.errors("predictions/huge-line.csv.errors.jsonl")
    assert (error["line"], error["reason"]) == (2, "line_too_long")
    assert batch.summary("predictions/huge-line.csv.summary.json")["rows"]["scored"] == 1


def test_many_bad_rows_in_one_file_keep_the_accounting(batch: Batch) -> None:
    lines = [b"id,text"]
    for i, text in enumerate(TEXTS):
        lines.append(csv_bytes([[str(i), text]]).rstrip(b"\r\n"))
        lines.append(f"{i},".encode())  # empty text
        lines.append(b"\xff\xfe," + text.encode())  # wrong field count and undecodable
    lines.append(b'99,"unterminated')
    body = b"\n".join(lines) + b"\n"
    batch.upload_and_invoke("incoming/mixed.csv", body)

    summary = batch.summary("predictions/mixed.csv.summary.json")
    assert_accounting(summary)
    assert summary["rows"]["scored"] == len(TEXTS)
    assert summary["rows"]["rejected"] == 2 * len(TEXTS) + 1
    errors = batch.errors("predictions/mixed.csv.errors.jsonl")
    assert [e["line"] for e in errors] == sorted(e["line"] for e in errors)
    assert errors[-1]["reason"] == "broken_csv_quoting"


@pytest.mark.parametrize(
    ("name", "body", "reason"),
    [
        ("corrupt.csv.gz", b"\x1f\x8b\x08\x00" + b"\x00" * 6 + b"not deflate data at all", "corrupt_gzip"),
        ("truncated.csv.gz", gzip.compress(b"text\n" + b"where is my parcel\n" * 500)[:-40], "corrupt_gzip"),
        ("not-gzip.jsonl.gz", b'{"text": "hello"}\n', "corrupt_gzip"),
        ("secretly-gzip.csv", gzip.compress(b"text\nhello\n"), "wrong_format"),
        ("no-text-column.csv", b"id,body\n1,where is my parcel\n", "missing_text_column"),
        ("csv-named.jsonl", b"text,label\nhello,x\n", "wrong_format"),
        ("binary.csv", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\xff\xd8", "wrong_format"),
        ("empty.csv", b"", "empty_file"),
        ("blank.jsonl", b"\n\n   \n", "empty_file"),
        ("empty.csv.gz", b"", "empty_file"),
        ("notes.txt", b"text\nhello\n", "unsupported_file_type"),
    ],
)
def test_an_unreadable_file_gets_an_error_summary_and_is_not_retried(
    batch: Batch, name: str, body: bytes, reason: str
) -> None:
    key = f"incoming/{name}"
    result = batch.upload_and_invoke(key, body)  # no exception: a retry could only fail the same way
    [outcome] = result["results"]
    assert (outcome["status"], outcome["error"]["reason"]) == ("failed", reason)

    summary = batch.summary(f"predictions/{name}.summary.json")
    assert summary["status"] == "failed"
    assert summary["error"]["reason"] == reason and summary["error"]["message"]
    assert summary["outputs"]["predictions"] is None
    assert summary["rows"] == {"read": 0, "scored": 0, "rejected": 0}
    assert batch.errors(f"predictions/{name}.errors.jsonl") == [
        {"line": None, "reason": reason, "message": summary["error"]["message"]}
    ]
    assert f"predictions/{name}" not in batch.keys()  # no half-written predictions
    assert not batch.s3.list_multipart_uploads(Bucket=batch.bucket).get("Uploads")


def test_a_quote_left_open_at_the_end_is_one_rejected_row_spanning_to_the_end(batch: Batch) -> None:
    body = csv_bytes([["text"], [TEXTS[0]]]) + b'"never closed\nmore\nand more\n'
    batch.upload_and_invoke("incoming/open-quote.csv", body)
    [error] = batch.errors("predictions/open-quote.csv.errors.jsonl")
    assert (error["line"], error["end_line"], error["reason"]) == (3, 5, "broken_csv_quoting")
    assert batch.summary("predictions/open-quote.csv.summary.json")["rows"] == {
        "read": 2,
        "scored": 1,
        "rejected": 1,
    }


def test_header_only_csv_is_a_file_with_no_rows(batch: Batch) -> None:
    batch.upload_and_invoke("incoming/header-only.csv", b"text,id\r\n")
    assert read_csv(batch.read("predictions/header-only.csv")) == [["text", "id", "label", "score"]]
    assert batch.summary("predictions/header-only.csv.summary.json")["rows"]["read"] == 0


def test_a_duplicate_event_rewrites_identical_outputs_and_no_duplicates(batch: Batch) -> None:
    body = csv_bytes([["text"]] + [[t] for t in TEXTS] + [[""]])
    key = "incoming/dup.csv"
    event = batch.event(key, batch.put(key, body), len(body))
    batch.invoke(event)
    first = {k: batch.read(k) for k in batch.keys("predictions/")}
    # meanwhile a newer version is uploaded; the duplicate event still names the old one
    batch.put(key, csv_bytes([["text"], ["something else entirely"]]))
    batch.invoke(event)
    second = {k: batch.read(k) for k in batch.keys("predictions/")}

    assert (
        list(first)
        == list(second)
        == [
            "predictions/dup.csv",
            "predictions/dup.csv.errors.jsonl",
            "predictions/dup.csv.summary.json",
        ]
    )
    assert first["predictions/dup.csv"] == second["predictions/dup.csv"]
    assert first["predictions/dup.csv.errors.jsonl"] == second["predictions/dup.csv.errors.jsonl"]
    one, two = (json.loads(d["predictions/dup.csv.summary.json"]) for d in (first, second))
    one.pop("duration_seconds"), two.pop("duration_seconds")
    assert one == two
    assert read_csv(second["predictions/dup.csv"])[1:] == [
        [t, *map(str, e)] for t, e in zip(TEXTS, expected(batch, TEXTS), strict=True)
    ]


def test_key_with_spaces_and_non_ascii_characters(batch: Batch) -> None:
    key = "incoming/Kundenanfragen März 2026/größte Datei + Ärger (1).csv"
    event = batch.event(key, batch.put(key, csv_bytes([["text"], [TEXTS[0]]])), 10)
    encoded = event["Records"][0]["s3"]["object"]["key"]
    assert " " not in encoded and "%C3%A4" in encoded and "%2B" in encoded and "+" in encoded
    batch.invoke(event)

    out = "predictions/Kundenanfragen März 2026/größte Datei + Ärger (1).csv"
    assert batch.keys("predictions/") == [out, f"{out}.errors.jsonl", f"{out}.summary.json"]
    assert batch.summary(f"{out}.summary.json")["input"]["key"] == key


def test_nothing_is_ever_written_under_incoming(batch: Batch) -> None:
    for name, body in [("a.csv", csv_bytes([["text"], [TEXTS[0]]])), ("b.csv.gz", b"broken")]:
        try:
            batch.upload_and_invoke(f"incoming/{name}", body)
        except BatchProcessingError:
            pass
    versions = batch.s3.list_object_versions(Bucket=batch.bucket, Prefix="incoming/")["Versions"]
    assert sorted(v["Key"] for v in versions) == ["incoming/a.csv", "incoming/b.csv.gz"]
    reads = {"GetObject", "HeadObject", "ListObjectsV2"}
    writes = [(op, p["Key"]) for op, p in batch.calls if op not in reads]
    assert writes and all(key.startswith("predictions/") for _, key in writes)


def test_a_key_outside_the_input_prefix_is_refused_and_nothing_written(batch: Batch) -> None:
    body = csv_bytes([["text"], [TEXTS[0]]])
    event = batch.event("predictions/loop.csv", batch.put("predictions/loop.csv", body), len(body))
    with pytest.raises(BatchProcessingError, match="not under 'incoming/'"):
        batch.invoke(event)
    assert batch.keys() == ["predictions/loop.csv"]


class _ShortOnTime(LambdaContext):
    def get_remaining_time_in_millis(self) -> int:
        return 10_000


def test_running_out_of_time_publishes_no_predictions_and_says_why(
    batch: Batch, batch_env: pytest.MonkeyPatch
) -> None:
    body = csv_bytes([["text"]] + [[t] for t in TEXTS])
    key = "incoming/slow.csv"
    result = batch.invoke(batch.event(key, batch.put(key, body), len(body)), _ShortOnTime())
    assert result["results"][0]["status"] == "failed"  # the same file would run out of time again
    assert batch.keys("predictions/") == [
        "predictions/slow.csv.errors.jsonl",
        "predictions/slow.csv.summary.json",
    ]
    summary = batch.summary("predictions/slow.csv.summary.json")
    assert (summary["status"], summary["error"]["reason"]) == ("failed", "time_limit")
    assert "more memory" in summary["error"]["message"]


def test_an_event_for_a_deleted_version_is_skipped_and_writes_nothing(batch: Batch) -> None:
    body = csv_bytes([["text"], [TEXTS[0]]])
    key = "incoming/gone.csv"
    put = batch.put(key, body)
    batch.s3.delete_object(Bucket=batch.bucket, Key=key, VersionId=put["VersionId"])
    result = batch.invoke(batch.event(key, put, len(body)))
    assert result["results"][0]["status"] == "skipped"
    assert batch.keys("predictions/") == []


@pytest.mark.parametrize(
    ("input_prefix", "output_prefix"),
    [("incoming/", "incoming/out/"), ("data/", "data/"), ("", "predictions/"), ("in/", "")],
)
def test_prefixes_that_could_loop_stop_the_function_at_start_up(
    batch: Batch, batch_env: pytest.MonkeyPatch, input_prefix: str, output_prefix: str
) -> None:
    batch_env.setenv("INPUT_PREFIX", input_prefix)
    batch_env.setenv("OUTPUT_PREFIX", output_prefix)
    get_settings.cache_clear()
    try:
        with pytest.raises(SettingsError, match="neither may contain the other"):
            batch.load()  # at start-up, before any file
    finally:
        batch_env.delenv("INPUT_PREFIX")
        batch_env.delenv("OUTPUT_PREFIX")
        get_settings.cache_clear()
