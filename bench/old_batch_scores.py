"""How the batch function passed scores along before they became one matrix, kept only to
benchmark against (``bench/batch.py`` runs the real handler with this path swapped in).

Copied from ``functions/batch/textclf_batch/scoring.py`` and ``formats.py`` at commit 5b11f3e:
the predictor's matrix became one ``Prediction`` dict per row, then three parallel lists
(labels, winning scores, every class's scores) that the worker processes pickled back to the
parent, which wrote the rows from them.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from textclf.model import Predictor
from textclf_batch.formats import SCORE_DIGITS, Row, _output_names


@dataclass(frozen=True, slots=True)
class OldScores:
    """Scores of a chunk of rows, in row order; ``per_class`` columns follow ``classes``."""

    labels: list[str]
    scores: list[float]
    per_class: list[list[float]]


def old_score_chunk(predictor: Predictor, texts: Sequence[str]) -> OldScores:
    classes = predictor.classes
    predictions = predictor.predict(texts)
    labels = [p["label"] for p in predictions]
    per_class = [[p["scores"][c] for c in classes] for p in predictions]
    scores = [p["scores"][label] for p, label in zip(predictions, labels, strict=True)]
    return OldScores(labels, scores, per_class)


def old_csv_encode(self: Any, rows: Sequence[Row], scores: OldScores, classes: Sequence[str]) -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=self.delimiter)
    writer.writerows(
        [*row.data, label, repr(round(score, SCORE_DIGITS))]
        for row, label, score in zip(rows, scores.labels, scores.scores, strict=True)
    )
    return buffer.getvalue().encode("utf-8")


def old_jsonl_encode(self: Any, rows: Sequence[Row], scores: OldScores, classes: Sequence[str]) -> bytes:
    out = []
    for row, label, score, per_class in zip(
        rows, scores.labels, scores.scores, scores.per_class, strict=True
    ):
        data: dict[str, Any] = row.data
        names = _output_names(list(data), ["label", "score", "scores"])
        result = {
            **data,
            names[0]: label,
            names[1]: round(score, SCORE_DIGITS),
            names[2]: {c: round(s, SCORE_DIGITS) for c, s in zip(classes, per_class, strict=True)},
        }
        out.append(json.dumps(result, ensure_ascii=False, separators=(",", ":")))
        out.append("\n")
    return "".join(out).encode("utf-8")


def use_old_scores() -> None:
    """Swap the old scores path into the batch function (before it starts its workers)."""
    import textclf_batch.scoring as scoring
    from textclf_batch.formats import CsvFormat, JsonLinesFormat

    scoring.score_chunk = old_score_chunk  # type: ignore[assignment]
    CsvFormat.encode = old_csv_encode  # type: ignore[assignment,method-assign]
    JsonLinesFormat.encode = old_jsonl_encode  # type: ignore[assignment,method-assign]
