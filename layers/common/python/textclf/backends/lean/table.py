"""The folded table: the vectorizers' weights and the coefficients in one array.

Scoring a text is then a gather of table rows, a weighted sum per vectorizer block
and a normalisation: the decision values before the head's intercepts and links.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

from textclf.backends.lean.analysis import Vectorizer

Floats = npt.NDArray[np.float64]
Ints = npt.NDArray[np.int64]

# Counts below this get their term-frequency weights from a table on the one-text path.
COUNT_TABLE = 32

NORM_POWER = {None: 0, "l1": 1, "l2": 2}


class DecisionTable:
    """The feature union and the coefficients folded into one table: texts -> decision values.

    scikit-learn scores a text as ``sum_j value_j * coef_j`` with, for column j of
    vectorizer block b, ``value_j = weight_b * tf(count_j) * idf_j / norm_b`` and
    ``norm_b`` the l2 norm (or l1 norm, or 1) of the block's ``tf * idf`` values.
    Every factor but ``tf`` and the norm is fixed per column, so the table holds
    ``weight_b * idf_j * coef_j`` and one more column, ``idf_j ** p`` (p = 2 for l2,
    1 for l1, 0 without a norm). Per text and block, one gather of table rows
    weighted by ``tf`` and one sum give the decision values before normalising and,
    in the last column, the norm (squared for l2). The sums run in another order than
    scikit-learn's, which moves scores by about 1e-16; export checks them against 1e-9.
    """

    def __init__(self, vectorizers: list[Vectorizer], coef: Floats) -> None:
        self.vectorizers = vectorizers
        self.n_features = sum(v.n_features for v in vectorizers)
        self.n_outputs = k = coef.shape[1]
        self.n_blocks = len(vectorizers)
        self._analyzers = [v.columns for v in vectorizers]
        self._bounds = np.array([v.offset for v in vectorizers[1:]], dtype=np.int64)
        table = np.empty((self.n_features, k + 1))
        table[:, :k] = coef
        for v in vectorizers:
            block = table[v.offset : v.offset + v.n_features]
            idf = np.ones(v.n_features) if v.idf is None else v.idf
            block[:, :k] *= idf[:, np.newaxis] * (1.0 if v.weight is None else v.weight)
            block[:, k] = 0.0 if v.norm is None else idf ** NORM_POWER[v.norm]
        self._table = table
        # how counts become term frequencies, and which power of them the norm column needs
        self._tf = [("binary" if v.binary else "sublinear" if v.sublinear_tf else "raw") for v in vectorizers]
        self._powers = [NORM_POWER[v.norm] for v in vectorizers]
        self._power = np.array(self._powers)
        self._uniform = len(set(self._tf)) == 1 and len(set(self._powers)) == 1
        # Row c: the weights of one occurrence of a column counted c times (c < COUNT_TABLE),
        # i.e. what _weigh multiplies such a row by; row 0 is unused.
        self._occurrence_weights: Floats | None = None
        if self._uniform:
            weights = np.ones((COUNT_TABLE, k + 1))
            self._weigh(weights[1:], np.arange(1, COUNT_TABLE), None, per_occurrence=True)
            self._occurrence_weights = weights
        # per-thread counting buffer of the one-text path, all zeros between calls
        self._scratch = threading.local()

    # -- one text: the latency path of the API -------------------------------------------------

    def block_sums(self, text: str) -> tuple[Floats, list[int]] | None:
        """One text's weighted table rows summed per block, and which blocks they are.

        Shape (blocks the text has columns in, n_outputs + 1); None for a text with no
        known column. Occurrences are not deduplicated: a column seen ``c`` times is
        gathered ``c`` times with weight ``tf(c) / c``, its count read from a scratch
        array. That avoids a sort, the costliest step for one short text.
        """
        columns: list[int] = []
        starts: list[int] = []
        blocks: list[int] = []
        for b, analyze in enumerate(self._analyzers):
            found = analyze(text)
            if found:
                starts.append(len(columns))
                blocks.append(b)
                columns += found
        if not columns:
            return None
        keys = np.fromiter(columns, np.intp, len(columns))
        counts = self._counts(keys)
        gathered = self._table.take(keys, axis=0)
        top = counts.max()
        if top > 1:  # every weight is 1 when each column occurs once
            if self._occurrence_weights is not None and top < COUNT_TABLE:
                gathered *= self._occurrence_weights.take(counts, axis=0)
            else:
                block_of = None if self._uniform else np.repeat(blocks, np.diff([*starts, len(keys)]))
                self._weigh(gathered, counts, block_of, per_occurrence=True)
        return np.add.reduceat(gathered, starts, axis=0), blocks

    def decision_one(self, text: str) -> Floats:
        """Decision values of one text, shape (n_outputs,)."""
        found = self.block_sums(text)
        if found is None:
            return np.zeros(self.n_outputs)
        sums, blocks = found
        out: Floats = self._inverse_norms(sums[:, -1], blocks) @ sums[:, :-1]
        return out

    def decision_row(self, text: str) -> list[float]:
        """:meth:`decision_one` as a list, normalised in plain Python (for few outputs)."""
        k = self.n_outputs
        raw = [0.0] * k
        found = self.block_sums(text)
        if found is None:
            return raw
        sums, blocks = found
        for row, b in zip(sums.tolist(), blocks, strict=True):
            power, norm = self._powers[b], row[k]
            scale = 1.0 / math.sqrt(norm) if power == 2 else 1.0 / norm if power == 1 else 1.0
            raw = [r + x * scale for r, x in zip(raw, row, strict=False)]  # row[k] is the norm
        return raw

    def _counts(self, keys: Ints) -> Ints:
        """How often each key occurs in ``keys``, for every element."""
        scratch = getattr(self._scratch, "counts", None)
        if scratch is None:
            scratch = self._scratch.counts = np.zeros(self.n_features, dtype=np.intp)
        np.add.at(scratch, keys, 1)
        try:
            counts: Ints = scratch.take(keys)
        finally:
            scratch[keys] = 0  # zeros again whatever happens, or later counts would be off
        return counts

    # -- many texts: the throughput path of batch scoring ----------------------------------------

    def decision_many(self, texts: Sequence[str], budget: int) -> Floats:
        """Decision values of several texts, shape (n_texts, n_outputs).

        The columns of all texts are counted together with one sort of (text, column)
        keys; the table rows are then gathered ``budget`` rows at a time at most, so
        the gathered block stays in cache.
        """
        n_texts, n_cols, k = len(texts), self.n_features, self.n_outputs
        flat: list[int] = []
        lengths: list[int] = []
        for text in texts:
            before = len(flat)
            for analyze in self._analyzers:
                flat += analyze(text)
            lengths.append(len(flat) - before)
        out = np.zeros((n_texts, k))
        if not flat:
            return out
        keys = np.asarray(flat, dtype=np.int64)
        keys += np.repeat(np.arange(n_texts, dtype=np.int64) * n_cols, lengths)
        keys.sort()
        first = run_starts(keys)
        counts = np.diff(first, append=len(keys))
        keys = keys[first]
        rows = keys // n_cols
        cols = keys - rows * n_cols
        block_of = np.searchsorted(self._bounds, cols, side="right") if self.n_blocks > 1 else None
        group = rows if block_of is None else rows * self.n_blocks + block_of
        group_starts = run_starts(group)
        group_ends = np.append(group_starts[1:], len(group))
        done = 0
        while done < len(group_starts):
            # whole groups, up to ``budget`` gathered rows (at least one group)
            last = max(done + 1, int(np.searchsorted(group_ends, group_starts[done] + budget, side="right")))
            lo, hi = group_starts[done], group_ends[last - 1]
            gathered = self._table.take(cols[lo:hi], axis=0)
            chunk_blocks = None if block_of is None else block_of[lo:hi]
            self._weigh(gathered, counts[lo:hi], chunk_blocks, per_occurrence=False)
            sums = np.add.reduceat(gathered, group_starts[done:last] - lo, axis=0)
            firsts = group_starts[done:last]
            sum_blocks = np.zeros(len(firsts), dtype=np.int64) if block_of is None else block_of[firsts]
            contrib = sums[:, :k] * self._inverse_norms(sums[:, k], sum_blocks)[:, np.newaxis]
            sum_rows = rows[firsts]
            row_starts = run_starts(sum_rows)
            # += : a text's blocks may straddle two chunks
            out[sum_rows[row_starts]] += np.add.reduceat(contrib, row_starts, axis=0)
            done = last
        return out

    # -- shared steps -----------------------------------------------------------------------------

    def _weigh(self, gathered: Floats, counts: Ints, block_of: Ints | None, per_occurrence: bool) -> None:
        """Weight gathered rows by term frequency, in place.

        Decision columns get ``tf``, the norm column ``tf ** p``; each divided by the
        count when every occurrence of a column was gathered (``per_occurrence``).
        """
        c = counts.astype(np.float64)
        mixed = not self._uniform and block_of is not None
        if mixed:
            assert block_of is not None
            tf = c.copy()
            for b, kind in enumerate(self._tf):
                if kind != "raw":
                    selected = block_of == b
                    tf[selected] = _term_frequency(kind, c[selected])
        else:
            tf = _term_frequency(self._tf[0], c)
        weight = tf / c if per_occurrence else tf
        gathered *= weight[:, np.newaxis]  # the norm column too: right for l1, once short for l2
        if mixed:
            gathered[:, -1] *= np.where(self._power[block_of] == 2, tf, 1.0)
        elif self._power[0] == 2:
            gathered[:, -1] *= tf

    def _inverse_norms(self, norm_sums: Floats, blocks: Any) -> Floats:
        """1 / norm of each (text, block) sum, from its norm column."""
        power = self._power if self._uniform else self._power[blocks]
        if self._uniform:
            p = int(power[0])
            if p == 0:
                return np.ones(len(norm_sums))
            return 1.0 / (np.sqrt(norm_sums) if p == 2 else norm_sums)
        norms = np.where(power == 2, np.sqrt(norm_sums), norm_sums)
        norms[power == 0] = 1.0
        out: Floats = 1.0 / norms
        return out


def _term_frequency(kind: str, counts: Floats) -> Floats:
    if kind == "binary":
        return np.ones_like(counts)
    if kind == "sublinear":
        tf: Floats = np.log(counts)
        tf += 1.0
        return tf
    return counts


def run_starts(values: Ints) -> Ints:
    """Indices where a run of equal values begins in a sorted, non-empty array."""
    change = np.empty(len(values), dtype=bool)
    change[0] = True
    np.not_equal(values[1:], values[:-1], out=change[1:])
    return np.flatnonzero(change)
