"""The lean predictor: the decision table and the head behind :class:`textclf.model.Predictor`."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

from textclf.backends.lean.head import Head
from textclf.backends.lean.table import DecisionTable
from textclf.manifest import Manifest
from textclf.model import Prediction, ScoreMatrixPredictor

Floats = npt.NDArray[np.float64]

# Gathered coefficient block (non-zeros x outputs) per step, in floats: 512 KiB stays in cache.
GATHER_BUDGET = 1 << 16
# Texts vectorised together; bounds the memory of the (row, column) arrays.
CHUNK_TEXTS = 1024


class LeanPredictor(ScoreMatrixPredictor):
    """Serves a lean artefact: the folded decision table and a head."""

    backend = "lean"

    def __init__(
        self,
        manifest: Manifest,
        classes: tuple[str, ...],
        table: DecisionTable,
        head: Head,
    ) -> None:
        super().__init__(manifest, classes)
        self._table = table
        self._head = head
        self._budget = max(1, GATHER_BUDGET // (table.n_outputs + 1))

    def decision_matrix(self, texts: Sequence[str]) -> Floats:
        """Feature rows times coefficients (no intercept): shape (n_texts, n_outputs)."""
        if len(texts) == 1:
            return self._table.decision_one(texts[0])[np.newaxis, :]
        return self._table.decision_many(texts, self._budget)

    def score_matrix(self, texts: Sequence[str]) -> Floats:
        """An (n_texts, n_classes) array of scores, columns in ``classes`` order."""
        if len(texts) == 1 and self._head.row is not None:
            return np.array([self._score_row(texts[0])])
        if len(texts) <= CHUNK_TEXTS:
            return self._head.scores(self.decision_matrix(texts))
        return np.concatenate(
            [
                self._head.scores(self.decision_matrix(texts[i : i + CHUNK_TEXTS]))
                for i in range(0, len(texts), CHUNK_TEXTS)
            ]
        )

    def predict(self, texts: Sequence[str]) -> list[Prediction]:
        if len(texts) != 1 or self._head.row is None:
            return super().predict(texts)
        # the API's case: one text, few classes, no NumPy after the block sums
        scores = self._score_row(texts[0])
        best = max(range(len(scores)), key=scores.__getitem__)  # the first best, as argmax
        return [{"label": self._classes[best], "scores": dict(zip(self._classes, scores, strict=True))}]

    def _score_row(self, text: str) -> list[float]:
        assert self._head.row is not None
        return self._head.row(self._table.decision_row(text))
