"""Reading training data as people really have it (issue 15): the label rule, typed JSON values,
CSV quoting, duplicate columns, near-duplicates, changing keys, long texts, the config file.

Pure reading and option checks: no training, no subprocess. Each kind has its issue example
and generated variations (hypothesis).
"""

from __future__ import annotations

import csv
import gzip
import io
import json
import math
import re
import unicodedata
from pathlib import Path

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from tests.helpers import ROOT
from training import cli
from training.config import file_keys, load_config
from training.data import (
    COMPRESSED_SUFFIXES,
    CONFLICT,
    CSV_SUFFIXES,
    DROPPED,
    DUPLICATE,
    EMPTY_TEXT,
    JSONL_SUFFIXES,
    MISSING_LABEL,
    NEAR_DUPLICATE,
    REFUSED,
    feature_key,
    load_dataset,
    open_quote_line,
)
from training.errors import DataError, TrainingError
from training.labels import LabelError, normalise_label

# tmp_path is shared by the examples of one test; every example writes its own file name
FILES = settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
WORDS = st.sampled_from("parcel late refund card login password invoice charge screen order box".split())
# format characters (Unicode category Cf) that print as nothing
INVISIBLE = st.sampled_from(
    ["\u200b", "\u200c", "\u200d", "\u2060", "\ufeff", "\u00ad", "\u200e", "\u202a", "\x00", "\x7f", "\x1b"]
)


def write(path: Path, content: str) -> Path:
    path.write_text(content, encoding="utf-8", newline="")
    return path


def jsonl(path: Path, objects: list[object]) -> Path:
    return write(path, "".join(json.dumps(o, ensure_ascii=False) + "\n" for o in objects))


def csv_file(path: Path, header: list[str], rows: list[list[str]]) -> Path:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(header)
    writer.writerows(rows)
    return write(path, buffer.getvalue())


def reasons(report) -> dict[tuple[str, str], list[int]]:
    return dict(report.outcomes)


# -- 4. the label rule ------------------------------------------------------------------------


def test_issue_example_label_spellings_become_one_class_each(tmp_path: Path) -> None:
    """JSONL 1 / 1.0 are one class "1", 2 / "2" one class "2"; NaN is a missing label; true is refused;
    NFC and NFD spellings are one class."""
    café_nfc, café_nfd = "caf\u00e9", "cafe\u0301"
    rows = [
        '{"text": "parcel one", "label": 1}',
        '{"text": "parcel two", "label": 1.0}',
        '{"text": "refund one", "label": 2}',
        '{"text": "refund two", "label": "2"}',
        '{"text": "no label here", "label": NaN}',
        '{"text": "boolean label", "label": true}',
        json.dumps({"text": "coffee one", "label": café_nfc}),
        json.dumps({"text": "coffee two", "label": café_nfd}),
    ]
    data = load_dataset(write(tmp_path / "d.jsonl", "\n".join(rows) + "\n"))
    assert data.labels == ["1", "1", "2", "2", café_nfc, café_nfc]
    assert reasons(data.report) == {
        (DROPPED, MISSING_LABEL): [5],
        (REFUSED, "label is a JSON boolean, not a string or an integer"): [6],
    }
    assert data.report.labels_merged == {"1": {"1": 1, "1.0": 1}, café_nfc: {café_nfc: 1, café_nfd: 1}}


@settings(deadline=None)
@given(
    n=st.integers(min_value=-(2**53), max_value=2**53),
    zeros=st.integers(0, 4),
    pad=st.sampled_from(["", " "]),
)
def test_integral_numbers_in_any_spelling_are_the_integer(n: int, zeros: int, pad: str) -> None:
    expected = str(n)
    spellings = [n, float(n), str(n), f"{pad}{n}.{'0' * zeros}{pad}"]
    assert {normalise_label(s) for s in spellings} == {expected}


@settings(deadline=None)
@given(st.floats(allow_nan=False, allow_infinity=False))
def test_a_json_number_and_its_decimal_string_are_one_class(x: float) -> None:
    text = normalise_label(x)
    assert text is not None and normalise_label(text) == text  # idempotent
    assert float(text) == x  # the value is kept exactly
    if "." in repr(x) and "e" not in repr(x):
        assert normalise_label(repr(x)) == text


@settings(max_examples=60, deadline=None)
@given(st.text(min_size=1, max_size=20), st.lists(INVISIBLE, max_size=3), st.data())
def test_unicode_form_invisible_characters_and_spacing_do_not_make_new_classes(
    label: str, invisible: list[str], data: st.DataObject
) -> None:
    base = normalise_label(label)
    assume(base is not None)
    variant = unicodedata.normalize(data.draw(st.sampled_from(["NFC", "NFD", "NFKC"]), "form"), label)
    assume(unicodedata.normalize("NFC", variant) == unicodedata.normalize("NFC", label))
    for ch in invisible:
        at = data.draw(st.integers(0, len(variant)), "at")
        variant = variant[:at] + ch + variant[at:]
    variant = f"  {variant.replace(' ', '   ')}\t"
    assert normalise_label(variant) == base
    assert normalise_label(base) == base
    assert unicodedata.is_normalized("NFC", base)
    assert not any(unicodedata.category(ch) in ("Cf", "Cc") for ch in base)


@pytest.mark.parametrize(
    "missing", [None, math.nan, "", "   ", "\u200b", "\ufeff \u200d", "nan", " NaN ", "NAN"]
)
def test_missing_labels(missing: object) -> None:
    assert normalise_label(missing) is None


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (True, "label is a JSON boolean"),
        (False, "label is a JSON boolean"),
        ([1], "label is a JSON array"),
        ({"a": 1}, "label is a JSON object"),
        (math.inf, "label is an infinite number"),
        (-math.inf, "label is an infinite number"),
    ],
)
def test_values_that_are_not_labels_are_refused(value: object, message: str) -> None:
    with pytest.raises(LabelError, match=re.escape(message)):
        normalise_label(value)


SPELLINGS = {
    "1": [1, 1.0, "1", "1.0", " 1.00 ", "1\u200b"],
    "2": [2, 2.0, "2", "2.0", "+2.0"],
    "billing": ["billing", " billing", "billing\u200b", "\ufeffbilling"],
    "caf\u00e9": ["caf\u00e9", "cafe\u0301", " cafe\u0301 "],
    "late order": ["late order", "late  order", "late\torder"],
}


@FILES
@given(st.data())
def test_generated_label_spellings_train_exactly_the_canonical_classes(tmp_path: Path, data) -> None:
    spelled = data.draw(
        st.lists(
            st.sampled_from(sorted(SPELLINGS)).flatmap(
                lambda c: st.tuples(st.just(c), st.sampled_from(SPELLINGS[c]))
            ),
            min_size=1,
            max_size=30,
        )
    )
    objects = [{"text": f"message number {i}", "label": value} for i, (_, value) in enumerate(spelled)]
    path = jsonl(tmp_path / f"labels-{len(spelled)}-{abs(hash(repr(spelled)))}.jsonl", objects)
    got = load_dataset(path)
    assert got.labels == [cls for cls, _ in spelled]
    assert got.report.outcomes == {}
    merged = got.report.labels_merged
    for cls, spellings in merged.items():
        assert sum(spellings.values()) == got.labels.count(cls)
    # csv cells spell numbers as text: the same classes
    rows = [
        [f"message number {i}", v if isinstance(v, str) else json.dumps(v)]
        for i, (_, v) in enumerate(spelled)
    ]
    from_csv = load_dataset(csv_file(path.with_suffix(".csv"), ["text", "label"], rows))
    assert from_csv.labels == got.labels


# -- 5. texts that are not strings; 10. a key that changes partway ----------------------------


def test_issue_example_non_string_texts_are_refused_with_their_lines(tmp_path: Path) -> None:
    objects: list[dict[str, object]] = [
        {"text": "parcel is late", "label": "shipping"},
        {"text": ["parcel", "late", "0"], "label": "shipping"},
        {"text": {"body": "refund"}, "label": "billing"},
        {"text": False, "label": "billing"},
        {"text": 42, "label": "billing"},
        {"text": 1.5, "label": "billing"},
        {"text": None, "label": "billing"},
    ]
    data = load_dataset(jsonl(tmp_path / "d.jsonl", objects))
    assert data.texts == ["parcel is late", "42", "1.5"]
    assert reasons(data.report) == {
        (REFUSED, "text is a JSON array, not a string"): [2],
        (REFUSED, "text is a JSON object, not a string"): [3],
        (REFUSED, "text is a JSON boolean, not a string"): [4],
        (DROPPED, EMPTY_TEXT): [7],
    }
    assert data.report.as_dict()["rows_refused"] == 3


JSON_NOT_TEXT = st.one_of(
    st.booleans(),
    st.lists(st.one_of(WORDS, st.integers()), max_size=3),
    st.dictionaries(WORDS, WORDS, max_size=2),
)


@FILES
@given(
    st.lists(
        st.one_of(WORDS.map(lambda w: ("ok", w)), JSON_NOT_TEXT.map(lambda v: ("bad", v))),
        min_size=1,
        max_size=25,
    )
)
def test_generated_non_string_texts_are_refused_row_by_row(tmp_path: Path, values) -> None:
    objects = [
        {"text": v if kind == "bad" else f"{v} {i}", "label": "a"} for i, (kind, v) in enumerate(values)
    ]
    bad_lines = [i for i, (kind, _) in enumerate(values, start=1) if kind == "bad"]
    path = jsonl(tmp_path / f"t-{abs(hash(repr(values)))}.jsonl", objects)
    if len(bad_lines) == len(values):
        with pytest.raises(DataError, match=r"no usable rows \(\d+ refused: text is a JSON"):
            load_dataset(path)
        return
    data = load_dataset(path)
    refused = [
        line for (outcome, _), lines in data.report.outcomes.items() if outcome == REFUSED for line in lines
    ]
    assert sorted(refused) == bad_lines
    assert len(data.texts) == len(values) - len(bad_lines)
    assert data.report.rows_read == len(values)


@FILES
@given(n=st.integers(2, 40), data=st.data())
def test_a_key_that_changes_partway_is_reported_as_missing_the_field(tmp_path: Path, n: int, data) -> None:
    change = data.draw(st.integers(1, n - 1), "change")
    new_key = data.draw(st.sampled_from(["Text", "TEXT", "body", "text "]), "key")
    objects = [{("text" if i < change else new_key): f"message {i}", "label": "ab"[i % 2]} for i in range(n)]
    data_set = load_dataset(jsonl(tmp_path / f"k-{n}-{change}-{new_key.strip()}.jsonl", objects))
    assert reasons(data_set.report) == {(DROPPED, "no 'text' field"): list(range(change + 1, n + 1))}
    assert data_set.texts == [f"message {i}" for i in range(change)]


def test_no_row_with_the_field_names_the_fields_seen(tmp_path: Path) -> None:
    with pytest.raises(
        DataError, match=r"no line has the field\(s\) 'text'; the first line has 'body', 'label'"
    ):
        load_dataset(jsonl(tmp_path / "d.jsonl", [{"body": "x", "label": "a"}]))


def test_json_line_separators_inside_strings_do_not_split_rows(tmp_path: Path) -> None:
    # JavaScript's JSON.stringify leaves U+2028 / U+2029 unescaped inside strings
    path = write(
        tmp_path / "d.jsonl",
        '{"text": "first\u2028second\u2029third", "label": "a"}\r\n{"text": "x y", "label": "b"}\n',
    )
    assert load_dataset(path).texts == ["first\u2028second\u2029third", "x y"]


# -- 6. broken CSV quoting --------------------------------------------------------------------


def test_issue_example_unbalanced_quote_in_120_rows_is_refused_at_its_line(tmp_path: Path) -> None:
    lines = ["text,label"] + [f"message number {i} about things,{'ab'[i % 2]}" for i in range(120)]
    lines[31] = '"' + lines[31]
    with pytest.raises(DataError) as info:
        load_dataset(write(tmp_path / "d.csv", "\n".join(lines) + "\n"))
    assert "d.csv: broken CSV: the quoted field opened on line 32 is not closed properly" in str(info.value)


def test_issue_example_small_file_blames_the_quote_not_the_row_count(tmp_path: Path) -> None:
    content = 'text,label\nhello there,a\n"broken start,b\nthird row,a\nfourth row,b\n'
    with pytest.raises(DataError, match="the quoted field opened on line 3 is not closed properly"):
        load_dataset(write(tmp_path / "d.csv", content))


TEXTS = st.lists(WORDS, min_size=1, max_size=4).map(" ".join)


@FILES
@given(
    n=st.integers(3, 150),
    data=st.data(),
    delimiter=st.sampled_from([",", "\t"]),
)
def test_generated_unbalanced_quotes_are_refused_at_the_line_they_open(
    tmp_path: Path, n: int, data, delimiter: str
) -> None:
    bad = data.draw(st.integers(0, n - 1), "bad row")
    column = data.draw(st.sampled_from([0, 1]), "column")
    later_quoted = data.draw(st.booleans(), "a properly quoted field later")
    rows = [[f"{data.draw(TEXTS, 'text')} {i}", "ab"[i % 2]] for i in range(n)]
    lines = [delimiter.join(["text", "label"])]
    for i, (text, label) in enumerate(rows):
        fields = [text, label]
        if i == bad:
            fields[column] = '"' + fields[column]
        elif later_quoted and i > bad and i % 3 == 0:
            fields[0] = f'"{fields[0]}{delimiter} quoted"'
        lines.append(delimiter.join(fields))
    suffix = ".tsv" if delimiter == "\t" else ".csv"
    path = write(tmp_path / f"q-{n}-{bad}-{column}-{later_quoted}{suffix}", "\n".join(lines) + "\n")
    with pytest.raises(DataError) as info:
        load_dataset(path)
    message = str(info.value)
    assert f"the quoted field opened on line {bad + 2} is not closed properly" in message
    assert "\n" not in message


@FILES
@given(
    st.lists(
        st.tuples(
            st.text(
                st.characters(blacklist_categories=["Cs"], blacklist_characters="\x00"),
                min_size=1,
                max_size=30,
            ),
            st.sampled_from(["a", "b", "c"]),
        ),
        min_size=1,
        max_size=30,
    )
)
def test_any_file_a_csv_writer_writes_is_read_back_row_for_row(tmp_path: Path, rows) -> None:
    """Quotes, delimiters and line breaks inside properly quoted fields are text, not broken CSV."""
    rows = [(text, label) for text, label in rows if text.strip()]
    keys = [feature_key(t) for t, _ in rows]
    assume(rows and len(set(keys)) == len(keys))
    # not a text of two or more lines with a delimiter each: those could be rows a stray quote swallowed
    assume(all(sum("," in line for line in re.split(r"\r\n|\r|\n", t)) < 2 for t, _ in rows))
    path = csv_file(tmp_path / f"w-{abs(hash(repr(rows)))}.csv", ["text", "label"], [list(r) for r in rows])
    data = load_dataset(path)
    assert data.texts == [t.strip() for t, _ in rows]
    assert data.labels == [label for _, label in rows]


def test_issue_example_a_stray_quote_closed_by_another_is_refused(tmp_path: Path) -> None:
    """The 59 vanishing rows: a quote opened on one row and closed by a bare `"` before a delimiter
    rows later reads as valid CSV; the rows inside the field give it away."""
    lines = ["text,label"] + [f"message number {i} about things,{'ab'[i % 2]}" for i in range(120)]
    lines[31] = '"' + lines[31]
    lines[90] = 'a screen of 55",b'
    with pytest.raises(DataError) as info:
        load_dataset(write(tmp_path / "d.csv", "\n".join(lines) + "\n"))
    assert (
        "the quoted field opened on line 32 runs to line 91, and the lines inside it look like rows"
        in str(info.value)
    )


@FILES
@given(n=st.integers(4, 80), data=st.data(), width=st.integers(2, 4))
def test_generated_stray_quotes_closed_later_are_refused(tmp_path: Path, n: int, data, width: int) -> None:
    bad = data.draw(st.integers(0, n - 3), "opening row")
    closing = data.draw(st.integers(bad + 2, n - 1), "closing row")
    header = ["text", "label", *[f"extra{i}" for i in range(width - 2)]]
    rows = [[f"{data.draw(TEXTS, 'text')} {i}", "ab"[i % 2], *["x"] * (width - 2)] for i in range(n)]
    rows[bad][0] = '"' + rows[bad][0]
    rows[closing][0] = rows[closing][0] + '"'
    rows += [
        ["tail a", "a", *["x"] * (width - 2)],
        ["tail b", "b", *["x"] * (width - 2)],
    ]  # labels of the file
    path = write(
        tmp_path / f"s-{n}-{bad}-{closing}-{width}.csv", "".join(",".join(r) + "\n" for r in [header, *rows])
    )
    with pytest.raises(
        DataError, match=f"opened on line {bad + 2} runs to line {closing + 2}, and the lines"
    ):
        load_dataset(path)


def test_texts_with_line_breaks_and_commas_are_not_mistaken_for_swallowed_rows(tmp_path: Path) -> None:
    rows = [
        ["Dear team,\nI was charged twice,\nplease refund", "a"],
        ["first line\nsecond, with a comma\nthird", "b"],
        ["one,a\ntwo", "a"],  # one line inside that looks like a row is not enough
        ["plain", "b"],
    ]
    got = load_dataset(csv_file(tmp_path / "d.csv", ["text", "label"], rows))
    assert got.texts == [r[0] for r in rows]


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("text,label\na b,x\nc d,y,extra\n", "broken CSV on line 3: 3 fields where the header has 2"),
        ("text,label\na b,x\nc d\n", "broken CSV on line 3: 1 fields where the header has 2"),
        ('text,label\n"a b" c,x\n', "the quoted field opened on line 2 is not closed properly"),
        ('text,label\n"multi\nline ""ok""",x\nfine,y\n"stray\n', "the quoted field opened on line 5"),
        ('"text,label\nx,y\n', "the quoted field opened on line 1"),
    ],
)
def test_broken_rows_refuse_the_file_with_their_line(tmp_path: Path, content: str, message: str) -> None:
    with pytest.raises(DataError, match=re.escape(message)):
        load_dataset(write(tmp_path / "d.csv", content))


def test_open_quote_line_finds_the_opening_quote_of_the_broken_field() -> None:
    record = ['"multi\n', 'line",fine\n', 'x,"open\n', "more\n"]
    assert open_quote_line(record, 10) == 12
    assert open_quote_line(['a,"b"c\n'], 4) == 4
    assert open_quote_line(['"a ""quoted"" word\n', "still open\n"], 7) == 7


# -- 7. duplicate column names ----------------------------------------------------------------


def test_issue_example_duplicate_label_column_is_refused(tmp_path: Path) -> None:
    with pytest.raises(DataError, match=r"the header names column 'label' 2 times \(columns 2, 3\)"):
        load_dataset(write(tmp_path / "d.csv", "text,label,label\nhello,a,b\nbye,b,a\n"))


@FILES
@given(
    extra=st.lists(st.sampled_from(["id", "source", "text", "label", "notes"]), max_size=5),
    data=st.data(),
)
def test_generated_headers_with_repeated_columns(tmp_path: Path, extra: list[str], data) -> None:
    header = ["text", "label", *extra]
    header = data.draw(st.permutations(header), "order")
    rows = [[f"message {i}" if h == "text" else "ab"[i % 2] for h in header] for i in range(4)]
    path = csv_file(tmp_path / f"h-{'-'.join(header)}.csv", list(header), rows)
    repeated = [c for c in ("text", "label") if header.count(c) > 1]
    if not repeated:
        assert len(load_dataset(path).texts) == 4  # repeated unused columns are fine
        return
    with pytest.raises(DataError) as info:
        load_dataset(path)
    name = repeated[0]
    positions = ", ".join(str(i) for i, h in enumerate(header, start=1) if h == name)
    assert f"names column {name!r} {header.count(name)} times (columns {positions})" in str(info.value)


def test_repeated_json_key_is_refused(tmp_path: Path) -> None:
    path = write(
        tmp_path / "d.jsonl", '{"text": "a b", "label": "x"}\n{"text": "c d", "label": "x", "label": "y"}\n'
    )
    with pytest.raises(DataError, match="line 2 has the field 'label' more than once"):
        load_dataset(path)
    other = write(tmp_path / "o.jsonl", '{"text": "a b", "label": "x", "id": 1, "id": 2}\n')
    assert load_dataset(other).labels == ["x"]


def test_same_column_for_text_and_label_is_refused(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="the text and the label column are both 'text'"):
        load_dataset(write(tmp_path / "d.csv", "text,label\na,b\n"), "text", "text")


# -- 8. near-duplicates -----------------------------------------------------------------------


def _variant(text: str, data: st.DataObject) -> str:
    out = []
    for word in text.split(" "):
        out.append("".join(c.upper() if data.draw(st.booleans()) else c for c in word))
        out.append(data.draw(st.sampled_from([" ", "  ", "\t", " \n "])))
    return data.draw(st.sampled_from(["", " "])) + "".join(out)


@FILES
@given(st.data())
def test_texts_equal_up_to_case_and_spacing_are_one_row_or_a_conflict(tmp_path: Path, data) -> None:
    bases = data.draw(st.lists(TEXTS, min_size=1, max_size=8, unique_by=feature_key))
    rows: list[tuple[str, str]] = []
    labels_of: dict[str, set[str]] = {}
    for i, base in enumerate(bases):
        copies = data.draw(st.integers(1, 4))
        for _ in range(copies):
            label = data.draw(st.sampled_from(["a", "b"])) if i % 2 else "a"
            rows.append((_variant(base, data), label))
            labels_of.setdefault(feature_key(base), set()).add(label)
    rows = data.draw(st.permutations(rows))
    path = csv_file(tmp_path / f"n-{abs(hash(repr(rows)))}.csv", ["text", "label"], [list(r) for r in rows])
    got = load_dataset(path)
    clean = [k for k, labels in labels_of.items() if len(labels) == 1]
    assert sorted(feature_key(t) for t in got.texts) == sorted(clean)
    assert len({feature_key(t) for t in got.texts}) == len(got.texts)
    conflicted = sum(1 for text, _ in rows if len(labels_of[feature_key(text)]) > 1)
    report = got.report
    assert report.conflicting_rows_dropped == conflicted
    assert report.conflicting_texts == len(labels_of) - len(clean)
    assert report.duplicates_dropped == len(rows) - conflicted - len(clean)
    assert report.rows_read == len(rows)


def test_issue_example_near_duplicates_are_dropped_and_counted(tmp_path: Path) -> None:
    content = "text,label\nParcel is late,a\nparcel  is LATE,a\nparcel is late,a\n"
    content += "refund please,b\nRefund please,a\n"
    got = load_dataset(write(tmp_path / "d.csv", content))
    assert got.texts == ["Parcel is late"]
    assert reasons(got.report) == {(DROPPED, NEAR_DUPLICATE): [3, 4], (DROPPED, CONFLICT): [5, 6]}
    assert (DROPPED, DUPLICATE) not in got.report.outcomes


# -- 11. long texts ---------------------------------------------------------------------------


@FILES
@given(limit=st.integers(1, 200), lengths=st.lists(st.integers(1, 400), min_size=1, max_size=10))
def test_texts_over_the_limit_are_cut_and_listed(tmp_path: Path, limit: int, lengths: list[int]) -> None:
    texts = [(f"w{i} " + "x" * n)[: max(n, 3)] for i, n in enumerate(lengths)]
    assume(len({feature_key(t[:limit]) for t in texts}) == len(texts))
    path = jsonl(
        tmp_path / f"l-{limit}-{'-'.join(map(str, lengths))}.jsonl",
        [{"text": t, "label": "a"} for t in texts],
    )
    got = load_dataset(path, max_text_chars=limit)
    assert got.texts == [t[:limit].strip() for t in texts]
    cut = [i for i, t in enumerate(texts, start=1) if len(t.strip()) > limit]
    expected = {("cut", f"text longer than {limit} characters, cut to the first {limit}"): cut} if cut else {}
    assert reasons(got.report) == expected
    assert got.report.as_dict()["texts_cut"] == len(cut)


def test_issue_example_a_2mb_text_is_cut_to_the_default_limit(tmp_path: Path) -> None:
    path = jsonl(
        tmp_path / "d.jsonl", [{"text": "word " * 400_000, "label": "a"}, {"text": "short", "label": "b"}]
    )
    got = load_dataset(path)
    assert got.texts[0] == ("word " * 1000).strip() and got.report.as_dict()["texts_cut"] == 1


# -- 9. options and the config file -----------------------------------------------------------


def readme_train_options() -> set[str]:
    """The options named in the README's table of `train` options (``snake_case``)."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("## Train on your own data", 1)[1].split("**What training does.**", 1)[0]
    rows = [line.split("|")[1] for line in section.splitlines() if line.startswith("| `--")]
    names = {name.replace("-", "_") for row in rows for name in re.findall(r"`--([a-z0-9-]+)", row)}
    return names - {"no_sublinear_tf"}  # the negative form of --sublinear-tf


def test_config_file_accepts_exactly_the_options_of_the_readme_table() -> None:
    documented = readme_train_options() - {"config"}
    assert len(documented) >= 16
    # the gate's override is deliberately not a config key: a file cannot switch the gate off
    assert file_keys() == documented - {"allow_regression"}
    train_parser = cli._parser()._subparsers._group_actions[0].choices["train"]  # type: ignore[union-attr]
    assert {a.dest for a in train_parser._actions} - {"help", "config"} == documented


def test_config_file_paths_are_relative_to_it_and_the_command_line_wins(tmp_path: Path) -> None:
    folder = tmp_path / "project"
    folder.mkdir()
    config = write(
        folder / "train.toml",
        '[training]\ndata = "data/train.csv"\ntest-file = "data/test.csv"\noutput = "layer"\nquiet = true\n'
        "max-text-chars = 800\ntime-budget = 5\n",
    )
    loaded = load_config(config)
    assert loaded == {
        "data": folder / "data/train.csv",
        "test_file": folder / "data/test.csv",
        "output": folder / "layer",
        "quiet": True,
        "max_text_chars": 800,
        "time_budget": 5.0,
    }
    args = cli._parser().parse_args(["train", "--config", str(config), "--output", "elsewhere"])
    options = cli.train_options(args)
    assert options.output == Path("elsewhere") and options.data == folder / "data/train.csv"
    assert options.quiet is True and options.max_text_chars == 800


@pytest.mark.parametrize(
    ("argv", "toml", "message"),
    [
        (["--time-budget", "inf"], None, "--time-budget must be a number from 0 to 86,400, got inf"),
        (["--time-budget", "nan"], None, "--time-budget must be a number from 0 to 86,400, got nan"),
        (["--time-budget", "1e12"], None, "must be a number from 0 to 86,400, got 1000000000000.0"),
        (["--time-budget", "-1"], None, "got -1.0"),
        (
            [],
            "time-budget = inf\n",
            "c.toml: option 'time-budget' must be a number from 0 to 86,400, got inf",
        ),
        ([], "min-accuracy = nan\n", "option 'min-accuracy' must be a number from 0 to 1, got nan"),
        (["--test-size", "nan"], None, "--test-size must be a number between 0 and 1 (exclusive), got nan"),
        (["--max-text-chars", "0"], None, "--max-text-chars must be a number from 1 to 1,000,000, got 0"),
        ([], 'quiet = "yes"\n', "option 'quiet' must be a valid boolean, got 'yes'"),
        ([], "config = 'x.toml'\n", "unknown option 'config'"),
    ],
)
def test_absurd_options_are_refused_with_one_line(
    tmp_path: Path, argv: list[str], toml: str | None, message: str
) -> None:
    full = ["train", "--data", "d.csv", *argv]
    if toml is not None:
        full += ["--config", str(write(tmp_path / "c.toml", toml))]
    with pytest.raises(TrainingError) as info:
        cli.train_options(cli._parser().parse_args(full))
    assert message in str(info.value) and "\n" not in str(info.value)


def test_data_is_required_somewhere() -> None:
    with pytest.raises(TrainingError, match="--data is required"):
        cli.train_options(cli._parser().parse_args(["train"]))


# -- file types: the error names every suffix that is read, and only those ------------------------

KNOWN_SUFFIXES = CSV_SUFFIXES + JSONL_SUFFIXES


def tiny_file(path: Path) -> Path:
    rows = [("late parcel again", "shipping"), ("charged twice", "billing")] * 2
    if path.suffix.lower() in JSONL_SUFFIXES:
        return jsonl(path, [{"text": t, "label": label} for t, label in rows])
    sep = "\t" if path.suffix.lower() == ".tsv" else ","
    return write(path, "".join(f"{t}{sep}{label}\n" for t, label in [("text", "label"), *rows]))


@pytest.mark.parametrize("suffix", [*KNOWN_SUFFIXES, *(s.upper() for s in KNOWN_SUFFIXES)])
def test_every_suffix_named_in_the_error_is_read(tmp_path: Path, suffix: str) -> None:
    assert load_dataset(tiny_file(tmp_path / f"data{suffix}")).class_counts == {"billing": 1, "shipping": 1}


@FILES
@given(suffix=st.text(st.sampled_from("abcdefgjkmopqrsuwxyz0123456789"), max_size=6))
def test_other_suffixes_are_refused_naming_every_suffix_that_is_read(tmp_path: Path, suffix: str) -> None:
    path = tmp_path / (f"data.{suffix}" if suffix else "data")
    assume(path.suffix.lower() not in KNOWN_SUFFIXES + COMPRESSED_SUFFIXES)
    with pytest.raises(DataError) as info:
        load_dataset(tiny_file(path))
    message = str(info.value)
    assert message.startswith(f"{path}: unknown file type ") and "\n" not in message
    assert (repr(path.suffix) if suffix else "(none)") in message
    assert all(known in message for known in KNOWN_SUFFIXES)


@pytest.mark.parametrize("compressed", COMPRESSED_SUFFIXES)
def test_a_compressed_file_is_refused_as_such(tmp_path: Path, compressed: str) -> None:
    """The issue a newcomer hit: ``data.csv.gz`` was refused as "unknown file type '.gz' (expected .csv or
    .jsonl)", which left out .tsv, .txt and .ndjson and did not say what to do."""
    path = tmp_path / f"data.csv{compressed}"
    path.write_bytes(gzip.compress(tiny_file(tmp_path / "data.csv").read_bytes()))
    with pytest.raises(DataError) as info:
        load_dataset(path)
    message = str(info.value)
    assert f"{path}: a compressed file ({compressed})" in message and "decompress it first" in message
    assert all(known in message for known in KNOWN_SUFFIXES)
