"""Scores stay one matrix from the predictor to the writer: the rows written from it are the
bytes the per-row ``Predictor.predict`` dicts gave (the path the batch function had before),
for any scores, ties, negative decision values, one class or many, and any clashing names."""

from __future__ import annotations

import csv
import io
import json
import pickle
from collections.abc import Sequence
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from textclf.model import ScoreMatrixPredictor
from textclf_batch.formats import SCORE_DIGITS, CsvFormat, JsonLinesFormat, Row, Scores
from textclf_batch.scoring import score_chunk


class MatrixPredictor(ScoreMatrixPredictor):
    """The backends' shared base with a fixed score matrix: ``predict`` is the real one."""

    backend = "matrix"

    def __init__(self, matrix: np.ndarray, classes: tuple[str, ...]) -> None:
        super().__init__({"version": "test"}, classes)
        self._matrix = matrix

    def score_matrix(self, texts: Sequence[str]) -> Any:
        return self._matrix[: len(texts)]


def expected_csv(rows: list[Row], predictor: MatrixPredictor, delimiter: str) -> bytes:
    """The CSV rows as written from ``predict()``'s dicts (label, its score)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=delimiter)
    for row, p in zip(rows, predictor.predict([r.text for r in rows]), strict=True):
        writer.writerow([*row.data, p["label"], repr(round(p["scores"][p["label"]], SCORE_DIGITS))])
    return buffer.getvalue().encode("utf-8")


def expected_jsonl(rows: list[Row], predictor: MatrixPredictor) -> bytes:
    """The JSON lines as written from ``predict()``'s dicts (label, score, every class's score)."""
    out = []
    for row, p in zip(rows, predictor.predict([r.text for r in rows]), strict=True):
        names = ["label", "score", "scores"]
        while set(row.data).intersection(names):
            names = [f"predicted_{n}" for n in names]
        label = p["label"]
        result = {
            **row.data,
            names[0]: label,
            names[1]: round(p["scores"][label], SCORE_DIGITS),
            names[2]: {c: round(s, SCORE_DIGITS) for c, s in p["scores"].items()},
        }
        out.append(json.dumps(result, ensure_ascii=False, separators=(",", ":")) + "\n")
    return "".join(out).encode("utf-8")


# scores as backends make them: probabilities, decision values of either sign, exact ties
values = st.one_of(
    st.floats(-1e6, 1e6, allow_nan=False, width=64),
    st.sampled_from([0.0, -0.0, 0.5, 1.0, 1 / 3, 0.1234565, 0.9999995, -2.5]),
)


@st.composite
def scored_chunks(draw: st.DrawFn) -> tuple[np.ndarray, tuple[str, ...]]:
    n_rows = draw(st.integers(1, 12))
    n_classes = draw(st.integers(1, 90))
    matrix = draw(hnp.arrays(np.float64, (n_rows, n_classes), elements=values))
    classes = tuple(f"class {i} ü" if i % 7 == 3 else f"c{i}" for i in range(n_classes))
    return matrix, classes


extra_fields = st.dictionaries(
    st.sampled_from(["id", "label", "score", "scores", "predicted_label", "note"]),
    st.one_of(st.integers(), st.text(max_size=5), st.none()),
    max_size=4,
)


@settings(max_examples=100, deadline=None)
@given(chunk=scored_chunks(), delimiter=st.sampled_from([",", ";", "\t", "|"]))
def test_csv_rows_from_the_matrix_are_the_bytes_predict_gave(
    chunk: tuple[np.ndarray, tuple[str, ...]], delimiter: str
) -> None:
    matrix, classes = chunk
    predictor = MatrixPredictor(matrix, classes)
    rows = [Row(i + 2, i + 2, f"text {i}", [str(i), f"text {i}", "x;y|z"]) for i in range(len(matrix))]
    fmt = CsvFormat("text", 1000, 10_000, delimiter)
    scores = score_chunk(predictor, [r.text for r in rows])
    assert fmt.encode(rows, scores, classes) == expected_csv(rows, predictor, delimiter)


@settings(max_examples=100, deadline=None)
@given(chunk=scored_chunks(), fields=extra_fields)
def test_json_lines_from_the_matrix_are_the_bytes_predict_gave(
    chunk: tuple[np.ndarray, tuple[str, ...]], fields: dict[str, Any]
) -> None:
    matrix, classes = chunk
    predictor = MatrixPredictor(matrix, classes)
    rows = [Row(i + 1, i + 1, f"text {i}", {**fields, "text": f"text {i}"}) for i in range(len(matrix))]
    scores = score_chunk(predictor, [r.text for r in rows])
    encoded = JsonLinesFormat("text", 1000, 10_000).encode(rows, scores, classes)
    assert encoded == expected_jsonl(rows, predictor)


def test_scores_cross_a_worker_pipe_as_the_same_array() -> None:
    matrix = np.random.default_rng(7).normal(size=(1000, 77))
    scores = Scores(matrix)
    data = pickle.dumps(scores, protocol=pickle.HIGHEST_PROTOCOL)
    assert len(data) < matrix.nbytes + 1024  # the raw bytes and a header, not a float object per value
    back = pickle.loads(data)
    assert back == scores and back.matrix.dtype == np.float64 and back.matrix.shape == (1000, 77)


def test_a_matrix_of_the_wrong_shape_fails_the_chunk() -> None:
    predictor = MatrixPredictor(np.zeros((3, 4)), ("a", "b", "c"))
    with pytest.raises(ValueError, match=r"shape \(3, 4\), expected \(3, 3\)"):
        score_chunk(predictor, ["x", "y", "z"])
