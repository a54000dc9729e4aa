"""Issue 12's kinds, attacked with inputs other than the issue's examples (through the real handler in moto).

Each test is an input that broke the reader's promise: every record after the header is read
once, ``read == scored + rejected``, no valid record is lost, and a bad input gets a clear
reason instead of a crash that Lambda would retry.
"""

from __future__ import annotations

import gzip
import json
import logging

import pytest

from tests.integration.conftest import Batch
from tests.integration.helpers import counts, run

pytestmark = pytest.mark.integration

GOOD = '{"text":"where is my parcel","id":1}\n'
SECRET = "zq-private-words"  # user text that must never reach a log, summary or error


def jsonl_outputs(
    batch: Batch, name: str
) -> tuple[list[dict[str, object]], list[dict[str, object]], dict[str, object]]:
    out = [json.loads(line) for line in batch.read(f"predictions/{name}").decode().splitlines()]
    return (
        out,
        batch.errors(f"predictions/{name}.errors.jsonl"),
        batch.summary(f"predictions/{name}.summary.json"),
    )


@pytest.mark.parametrize(
    ("bad", "detail"),
    [
        ("[" * 100_000, "invalid JSON: nested too deeply to read"),
        (
            '{"text":"' + SECRET + '","x":' + "[" * 50_000 + "]" * 50_000 + "}",
            "invalid JSON: nested too deeply to read",
        ),
        (
            '{"text":"' + SECRET + '","n":' + "7" * 5000 + "}",
            "invalid JSON: a number has too many digits to read",
        ),
    ],
    ids=["deep-array", "deep-value", "huge-integer"],
)
@pytest.mark.parametrize("position", ["first", "middle", "last"])
def test_a_json_line_python_cannot_parse_is_one_rejected_row_not_a_crash(
    batch: Batch, caplog: pytest.LogCaptureFixture, bad: str, detail: str, position: str
) -> None:
    """RecursionError / ValueError from ``json.loads`` used to fail the whole file (and be retried)."""
    lines = [GOOD, GOOD.replace("1}", "3}")]
    at = {"first": 0, "middle": 1, "last": 2}[position]
    lines.insert(at, bad + "\n")
    with caplog.at_level(logging.DEBUG):
        result = run(batch, "incoming/deep.jsonl", "".join(lines).encode())
    assert result["status"] == "ok"
    out, errors, summary = jsonl_outputs(batch, "deep.jsonl")
    assert counts(summary) == (3, 2, 1)
    assert [o["id"] for o in out] == [1, 3]
    assert errors == [{"line": at + 1, "row": at + 1, "reason": "invalid_json", "detail": detail}]
    assert SECRET not in json.dumps(summary) + json.dumps(errors) + caplog.text


@pytest.mark.parametrize(
    "first",
    [
        '{"text":"' + SECRET + '"',  # cut short
        '{"text":"' + SECRET + '",}',  # trailing comma (JavaScript habits)
        "null",
        '"' + SECRET + '"',
        "[1, 2]",
    ],
)
def test_a_bad_first_json_line_does_not_cost_the_good_lines_after_it(
    batch: Batch, caplog: pytest.LogCaptureFixture, first: str
) -> None:
    """The first line used to decide alone whether a .jsonl file is JSON Lines at all."""
    body = (first + "\r\n" + GOOD + "\r\n" + GOOD.replace("1}", "2}")).encode()
    with caplog.at_level(logging.DEBUG):
        assert run(batch, "incoming/first.jsonl", body)["status"] == "ok"
    out, errors, summary = jsonl_outputs(batch, "first.jsonl")
    assert counts(summary) == (3, 2, 1)
    assert [o["id"] for o in out] == [1, 2]
    assert [(e["line"], e["reason"]) for e in errors] == [(1, errors[0]["reason"])]
    assert errors[0]["reason"] in ("invalid_json", "not_an_object")
    assert SECRET not in json.dumps(summary) + json.dumps(errors) + caplog.text


@pytest.mark.parametrize(
    "body",
    [
        b'[{"text": "a"}, {"text": "b"}]\n',  # one JSON array
        b'[\n  {"text": "a"},\n  {"text": "b"}\n]\n',  # the same, pretty-printed
        b'[{"text": "a"},\n {"text": "b"}]\n',  # the same, one element a line
        b'{\n  "text": "a"\n}\n{"text": "b"}\n',  # a pretty-printed object
        b"text,id\nwhere is my parcel,1\n",  # a CSV named .jsonl
    ],
)
def test_a_file_that_is_not_json_lines_is_still_refused_as_a_whole(batch: Batch, body: bytes) -> None:
    result = run(batch, "incoming/other.jsonl", body)
    assert (result["status"], result["error"]["reason"]) == ("failed", "wrong_format")
    assert result["error"]["message"].startswith("not JSON Lines: line 1 is not a JSON object")


def test_an_invalid_json_line_names_the_column_where_it_breaks(batch: Batch) -> None:
    """Not "column 1" of a next line (the line end), and no doubled "at"."""
    body = (GOOD + '{"text":"where is my parcel"\n' + '{"text":"a\tb"}\n').encode()
    run(batch, "incoming/col.jsonl", body)
    _, errors, summary = jsonl_outputs(batch, "col.jsonl")
    assert counts(summary) == (3, 1, 2)
    assert [e["detail"] for e in errors] == [
        "invalid JSON: Expecting ',' delimiter at column 29",
        "invalid JSON: Invalid control character at column 11",
    ]


@pytest.mark.parametrize("encoding", ["utf-16-le", "utf-16-be"])
@pytest.mark.parametrize("where", ["header", "first-row", "after-64-kib"])
def test_invalid_utf16_anywhere_is_a_wrong_encoding_failure_never_a_crash(
    batch: Batch, caplog: pytest.LogCaptureFixture, encoding: str, where: str
) -> None:
    """A lone surrogate near the start used to escape as a raw UnicodeDecodeError (and be retried)."""
    lone = b"\x00\xd8" if encoding.endswith("le") else b"\xd8\x00"
    bom = "\ufeff".encode(encoding)
    before = {
        "header": "te",
        "first-row": f"text,id\r\n{SECRET}",
        "after-64-kib": "text,id\r\n" + "ok,1\r\n" * 20_000,
    }
    body = bom + before[where].encode(encoding) + lone + f"{SECRET},2\r\nrefund please,3\r\n".encode(encoding)
    with caplog.at_level(logging.DEBUG):
        result = run(batch, "incoming/wide.csv", body)  # no exception: nothing to retry
    assert (result["status"], result["error"]["reason"]) == ("failed", "wrong_encoding")
    assert result["error"]["message"].startswith("the file is not valid UTF-16 (illegal UTF-16 surrogate")
    summary = batch.summary("predictions/wide.csv.summary.json")
    assert summary["status"] == "failed" and summary["error"] == result["error"]
    assert SECRET not in json.dumps(summary) + caplog.text


@pytest.mark.parametrize("padding", [4, 511, 3 << 20], ids=["4-bytes", "511-bytes", "3-MiB"])
@pytest.mark.parametrize("members", [1, 2])
def test_zero_padding_after_a_gzip_member_is_ignored_as_gzip_does(
    batch: Batch, padding: int, members: int
) -> None:
    """Tape/block tools pad .gz files with zero bytes; gzip(1) and Python's gzip read them, so must we."""
    parts = [b"text,id\r\nwhere is my parcel,1\r\n", b"refund please,2\r\n"]
    body = (
        gzip.compress(b"".join(parts)) + b"\x00" * padding
        if members == 1
        else gzip.compress(parts[0]) + b"\x00" * padding + gzip.compress(parts[1]) + b"\x00" * padding
    )
    assert gzip.decompress(body) == b"".join(parts)  # the reference reader agrees
    assert run(batch, "incoming/padded.csv.gz", body)["status"] == "ok"
    summary = batch.summary("predictions/padded.csv.gz.summary.json")
    assert counts(summary) == (2, 2, 0)
    rows = gzip.decompress(batch.read("predictions/padded.csv.gz")).decode().splitlines()
    assert [r.split(",")[:2] for r in rows[1:]] == [["where is my parcel", "1"], ["refund please", "2"]]


def test_non_zero_garbage_after_a_gzip_member_is_still_corrupt(batch: Batch) -> None:
    body = gzip.compress(b"text\nwhere is my parcel\n") + b"\x00\x00junk"
    result = run(batch, "incoming/junk.csv.gz", body)
    assert (result["status"], result["error"]["reason"]) == ("failed", "corrupt_gzip")


@pytest.mark.parametrize(
    ("body", "detail"),
    [
        (
            b"text\nwhere is my parcel\nrefund, please\n",
            "expected 1 field (as the header), found 2: a field holding ',' must be quoted (\"...\"), "
            "or set CSV_DELIMITER to the file's separator",
        ),
        (
            b"text;id\nwhere is my parcel;1\nrefund; please;2\n",
            "expected 2 fields (as the header), found 3: a field holding ';' must be quoted (\"...\")",
        ),
        (b"text,id\nwhere is my parcel,1\nrefund please\n", "expected 2 fields (as the header), found 1"),
    ],
    ids=["one-column", "semicolons", "short-row"],
)
def test_a_row_with_the_wrong_field_count_says_what_to_do(batch: Batch, body: bytes, detail: str) -> None:
    """A text with an unquoted delimiter (single-column exports often have them) gets advice that fits."""
    run(batch, "incoming/count.csv", body)
    errors = batch.errors("predictions/count.csv.errors.jsonl")
    summary = batch.summary("predictions/count.csv.summary.json")
    assert counts(summary) == (2, 1, 1)
    assert errors == [{"line": 3, "row": 2, "reason": "wrong_field_count", "detail": detail}]
