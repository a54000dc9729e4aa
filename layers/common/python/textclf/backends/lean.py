"""The lean backend: a linear text classifier scored with NumPy alone.

Training (``training/export_lean.py``) writes the fitted scikit-learn pipeline as
pure data next to the joblib file: ``lean.json`` (analyzer settings, intercepts,
calibration), one vocabulary text file per vectorizer, and ``.npy`` arrays (IDF,
coefficients) read with ``allow_pickle=False``. Nothing here can execute code
from the model folder, and neither scikit-learn nor SciPy is imported, so a
deployment that only has this backend stays small and starts fast.

Text analysis follows scikit-learn exactly (same preprocessing, same n-grams, so
the same columns with the same counts). The arithmetic after it is rearranged:
IDF, vectorizer weights and norms are folded into one table (see
:class:`Features`), so sums run in another order and scores move by about 1e-16.
Training refuses to ship the lean files unless both scoring paths (texts together,
and one text per call) reproduce the pipeline's labels exactly and its scores to
within 1e-9.

Two paths: many texts are counted together with one sort of (text, column) keys,
then gathered and summed per (text, block) with ``np.add.reduceat``; one text (the
API's case) skips the sort, counting its columns in a scratch array, and with few
classes its norms and head run on Python floats (see ``ROW_MAX_OUTPUTS``).
"""

from __future__ import annotations

import json
import logging
import math
import re
import sys
import threading
import unicodedata
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from textclf.errors import BackendUnavailableError, ModelLoadError
from textclf.manifest import verify_files
from textclf.model import Prediction, ScoreMatrixPredictor

logger = logging.getLogger(__name__)

FORMAT = "textclf-lean/1"
SPEC_NAME = "lean.json"

Floats = npt.NDArray[np.float64]
Ints = npt.NDArray[np.int64]
Analyzer = Callable[[str], list[int]]

# Gathered coefficient block (non-zeros x outputs) per step, in floats: 512 KiB stays in cache.
GATHER_BUDGET = 1 << 16
# Up to this many outputs, one text's scores are finished in plain Python floats: a
# few operations per class cost less than NumPy's per-call overhead on tiny arrays
# (measured, norms + calibrated head: 4 us against 10 us at 5 classes, 7.7 against 10
# at 16; NumPy wins from about 20 in a tight loop, later inside a request).
ROW_MAX_OUTPUTS = 24
# Counts below this get their term-frequency weights from a table on the one-text path.
COUNT_TABLE = 32
# Texts vectorised together; bounds the memory of the (row, column) arrays.
CHUNK_TEXTS = 1024
# Words whose char_wb n-gram columns are remembered (per vectorizer), cleared when full;
# longer words are not cached, which bounds the cache's memory whatever clients send.
WORD_CACHE_SIZE = 1 << 14
MAX_CACHED_WORD = 40

# Largest x with a finite exp(x) (about 709.78), rounded down.
EXP_LIMIT = 709.0

# scikit-learn's _VectorizerMixin collapses runs of whitespace before character n-grams.
_WHITE_SPACES = re.compile(r"\s\s+")


# -- text analysis -------------------------------------------------------------------------


def strip_accents_unicode(text: str) -> str:
    """NFKD, then drop combining marks; ASCII text is returned as is."""
    if text.isascii():
        return text
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join([c for c in decomposed if not unicodedata.combining(c)])


def strip_accents_ascii(text: str) -> str:
    """NFKD, then drop everything that is not ASCII."""
    return unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")


ACCENT_STRIPPERS: dict[str, Callable[[str], str]] = {
    "unicode": strip_accents_unicode,
    "ascii": strip_accents_ascii,
}


def word_ngrams(tokens: list[str], min_n: int, max_n: int) -> list[str]:
    """Token n-grams for n in [min_n, max_n], in scikit-learn's order."""
    if max_n == 1:
        return tokens
    grams = list(tokens) if min_n == 1 else []
    n_tokens = len(tokens)
    for n in range(max(min_n, 2), min(max_n, n_tokens) + 1):
        if n == 2:
            grams += [f"{a} {b}" for a, b in zip(tokens, tokens[1:], strict=False)]
        else:
            grams += [" ".join(tokens[i : i + n]) for i in range(n_tokens - n + 1)]
    return grams


def char_wb_ngrams(word: str, min_n: int, max_n: int) -> list[str]:
    """Character n-grams of one word padded with a space on each side.

    A padded word no longer than n yields itself once and ends the series, as in
    scikit-learn's ``_char_wb_ngrams``.
    """
    padded = f" {word} "
    length = len(padded)
    grams: list[str] = []
    for n in range(min_n, max_n + 1):
        if length <= n:
            grams.append(padded)
            break
        grams += [padded[i : i + n] for i in range(length - n + 1)]
    return grams


def char_ngrams(text: str, min_n: int, max_n: int) -> list[str]:
    """Character n-grams of the whole (whitespace-collapsed) text."""
    length = len(text)
    grams: list[str] = []
    for n in range(min_n, min(max_n, length) + 1):
        grams += [text[i : i + n] for i in range(length - n + 1)]
    return grams


class Vectorizer:
    """One CountVectorizer / TfidfVectorizer's analysis: text -> its (global) columns.

    The vocabulary maps terms straight to columns of the whole feature space
    (``offset`` included), so the columns of all vectorizers can be counted together.
    """

    def __init__(self, spec: dict[str, Any], vocabulary: dict[str, int], idf: Floats | None) -> None:
        self.name = str(spec["name"])
        self.offset = int(spec["offset"])
        self.n_features = int(spec["n_features"])
        self.binary = bool(spec["binary"])
        self.sublinear_tf = bool(spec["sublinear_tf"])
        self.norm: str | None = spec["norm"]
        weight = spec["weight"]
        self.weight: float | None = None if weight is None else float(weight)
        self.idf = idf
        self._vocabulary = vocabulary
        self._lowercase = bool(spec["lowercase"])
        accents = spec["strip_accents"]
        self._strip_accents = None if accents is None else ACCENT_STRIPPERS[accents]
        self._min_n, self._max_n = (int(n) for n in spec["ngram_range"])
        # tuples, not lists: the garbage collector stops tracking tuples of ints
        self._word_cache: dict[str, tuple[int, ...]] = {}
        kind = spec["analyzer"]
        if kind == "word":
            self._findall = re.compile(spec["token_pattern"]).findall
            stop = spec["stop_words"]
            self._stop_words = None if stop is None else frozenset(stop)
            self.columns: Analyzer = self._word_columns
        elif kind == "char_wb":
            self.columns = self._char_wb_columns
        elif kind == "char":
            self.columns = self._char_columns
        else:  # pragma: no cover - rejected when the spec is read
            raise ModelLoadError(f"unknown analyzer {kind!r}")

    def _preprocess(self, text: str) -> str:
        if self._lowercase:
            text = text.lower()
        if self._strip_accents is not None:
            text = self._strip_accents(text)
        return text

    def _lookup(self, grams: list[str]) -> list[int]:
        get = self._vocabulary.get
        return [j for j in map(get, grams) if j is not None]

    def _word_columns(self, text: str) -> list[int]:
        tokens: list[str] = self._findall(self._preprocess(text))
        if self._stop_words is not None:
            stop = self._stop_words
            tokens = [t for t in tokens if t not in stop]
        return self._lookup(word_ngrams(tokens, self._min_n, self._max_n))

    def _char_wb_columns(self, text: str) -> list[int]:
        # scikit-learn first collapses whitespace runs with re's \s, which matches exactly
        # the characters str.split() splits on, so the words are the same without it
        cache = self._word_cache
        columns: list[int] = []
        for word in self._preprocess(text).split():
            cols = cache.get(word)
            if cols is None:
                cols = tuple(self._lookup(char_wb_ngrams(word, self._min_n, self._max_n)))
                if len(word) <= MAX_CACHED_WORD:
                    if len(cache) >= WORD_CACHE_SIZE:
                        cache.clear()
                    cache[word] = cols
            columns += cols
        return columns

    def _char_columns(self, text: str) -> list[int]:
        text = _WHITE_SPACES.sub(" ", self._preprocess(text))
        return self._lookup(char_ngrams(text, self._min_n, self._max_n))


NORM_POWER = {None: 0, "l1": 1, "l2": 2}


class Features:
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


# -- the classifier head --------------------------------------------------------------------


def expit(x: Floats) -> Floats:
    """The logistic function, 1 / (1 + exp(-x)), as SciPy's ``expit``."""
    with np.errstate(over="ignore"):
        out: Floats = 1.0 / (1.0 + np.exp(-x))
    return out


def softmax(x: Floats) -> Floats:
    """Row-wise softmax as scikit-learn's ``utils.extmath.softmax``."""
    out = x - x.max(axis=1, keepdims=True)
    np.exp(out, out=out)
    out /= out.sum(axis=1, keepdims=True)
    return out


def ovr_from_ovo(decision: Floats, n_classes: int) -> Floats:
    """One-vs-one margins -> per-class votes plus a confidence in (-1/3, 1/3).

    The same aggregation as scikit-learn's ``_ovr_decision_function`` for
    ``SVC(decision_function_shape="ovr")``: pair (i, j) votes for i when its
    margin is >= 0, and its margin is added to i's confidence and subtracted from j's.
    """
    n = decision.shape[0]
    votes = np.zeros((n, n_classes))
    confidence = np.zeros((n, n_classes))
    k = 0
    for i in range(n_classes):
        for j in range(i + 1, n_classes):
            margin = decision[:, k]
            confidence[:, i] += margin
            confidence[:, j] -= margin
            negative = margin < 0
            votes[~negative, i] += 1
            votes[negative, j] += 1
            k += 1
    out: Floats = votes + confidence / (3 * (np.abs(confidence) + 1))
    return out


class Member:
    """One fitted linear model (and, if calibrated, its sigmoid calibrators)."""

    def __init__(self, spec: dict[str, Any], n_outputs: int) -> None:
        self.kind = str(spec["kind"])  # "linear" or "ovo"
        start, stop = (int(c) for c in spec["columns"])
        if not 0 <= start < stop <= n_outputs:
            raise ModelLoadError(f"lean model: columns {start}:{stop} outside 0:{n_outputs}")
        self.columns = slice(start, stop)
        self.intercept = _floats(spec["intercept"], stop - start, "intercept")
        self.n_classes = int(spec.get("n_classes", 0))
        if self.kind == "ovo" and (stop - start) != max(1, self.n_classes * (self.n_classes - 1) // 2):
            raise ModelLoadError("lean model: one-vs-one column count does not match its classes")
        # width of the decision function: one-vs-one margins become one column per class
        self.width = self.n_classes if self.kind == "ovo" and self.n_classes > 2 else stop - start
        calibration = spec.get("calibration")
        self.targets: list[int] = []
        if calibration is not None:
            self.targets = [int(t) for t in calibration["targets"]]
            if (
                not self.targets
                or len(self.targets) > self.width
                or len(set(self.targets)) != len(self.targets)
            ):
                raise ModelLoadError("lean model: calibration targets do not fit the decision columns")
            n = len(self.targets)
            self.a = _floats(calibration["a"], n, "calibration a")
            self.b = _floats(calibration["b"], n, "calibration b")
            # the sigmoid of target t is expit(-(a * d + b)) = 1 / (1 + exp(a * d + b)); for
            # a linear member d = raw + intercept, so the exponent is one multiply-add of raw
            self._folded = self.kind == "linear"
            self._offset = self.a * self.intercept[:n] + self.b
            self._raw_columns = slice(start, start + n)
            self._in_order = self.targets == list(range(n))

    def decision(self, raw: Floats) -> Floats:
        """This member's decision function, 2-D (a binary model has one column)."""
        d: Floats = raw[:, self.columns] + self.intercept
        if self.kind == "ovo" and self.n_classes > 2:
            d = ovr_from_ovo(d, self.n_classes)
        return d

    def calibrated(self, raw: Floats, n_classes: int) -> Floats:
        """Calibrated probabilities as ``_CalibratedClassifier.predict_proba``."""
        n = len(self.targets)
        if self._folded:
            exponent = raw[:, self._raw_columns] * self.a
            exponent += self._offset
        else:
            exponent = self.a * self.decision(raw)[:, :n] + self.b
        # 1 / (1 + exp(x)), with x capped where exp overflows: the sigmoid is then about
        # 1e-308 instead of scipy's 0, which moves no normalised probability
        np.minimum(exponent, EXP_LIMIT, out=exponent)
        sigmoid = np.exp(exponent, out=exponent)
        sigmoid += 1.0
        np.reciprocal(sigmoid, out=sigmoid)
        if self._in_order and n == n_classes:
            proba = sigmoid
        else:
            proba = np.zeros((raw.shape[0], n_classes))
            proba[:, self.targets] = sigmoid
        if n_classes == 2:
            proba[:, 0] = 1.0 - proba[:, 1]
        else:
            # every sigmoid is positive, so no total is zero
            proba /= proba.sum(axis=1, keepdims=True)
        # scikit-learn then sets values in (1, 1 + 1e-5] to 1. There are none here: a
        # rounded sum of non-negative terms is never below any of them, so p / sum <= 1,
        # and a sigmoid is at most 1.
        return proba


def _floats(values: Any, length: int, what: str) -> Floats:
    array = np.asarray(values, dtype=np.float64)
    if array.shape != (length,) or not np.isfinite(array).all():
        raise ModelLoadError(f"lean model: {what} must be {length} finite numbers")
    return array


class Head:
    """Decision values -> the score matrix the service returns."""

    def __init__(self, spec: dict[str, Any], n_outputs: int, n_classes: int) -> None:
        self.members = [Member(m, n_outputs) for m in spec["members"]]
        self.calibrated = bool(spec["calibrated"])
        self.link = str(spec["link"])  # "decision" | "logistic" | "softmax" | "calibrated"
        self.n_classes = n_classes
        if not self.members or (not self.calibrated and len(self.members) != 1):
            raise ModelLoadError("lean model: an uncalibrated head has exactly one member")
        for member in self.members:
            if any(not 0 <= t < n_classes for t in member.targets):
                raise ModelLoadError("lean model: calibration target outside the classes")
            if self.calibrated != bool(member.targets):
                raise ModelLoadError("lean model: calibration given for some members only")
        if self.link not in ("decision", "logistic", "softmax", "calibrated"):
            raise ModelLoadError(f"lean model: unknown link {self.link!r}")
        width = self.members[0].width
        if not self.calibrated and not (width == n_classes or (width == 1 and n_classes == 2)):
            raise ModelLoadError(f"lean model: {width} decision columns for {n_classes} classes")
        self.row = self._row_function(n_outputs)

    def _row_function(self, n_outputs: int) -> Callable[[list[float]], list[float]] | None:
        """:meth:`scores` of one row in plain Python floats, for one linear member and
        few outputs (see ``ROW_MAX_OUTPUTS``); None where only the NumPy path applies."""
        member = self.members[0]
        if len(self.members) != 1 or member.kind != "linear" or n_outputs > ROW_MAX_OUTPUTS:
            return None
        start, stop = member.columns.start, member.columns.stop
        if self.calibrated:
            # 1 / (1 + exp(a * raw + offset)) per target, as Member.calibrated
            a, offset = member.a.tolist(), member._offset.tolist()
            start, stop = member._raw_columns.start, member._raw_columns.stop

            def sigmoids(raw: list[float]) -> list[float]:
                return [
                    1.0 / (1.0 + math.exp(min(x * s + o, EXP_LIMIT)))
                    for x, s, o in zip(raw[start:stop], a, offset, strict=True)
                ]

            if member._in_order and len(member.targets) == self.n_classes:

                def normalised(raw: list[float]) -> list[float]:
                    p = sigmoids(raw)
                    total = sum(p)
                    return [x / total for x in p]

                return normalised
            if self.n_classes == 2 and member.targets == [1]:

                def binary(raw: list[float]) -> list[float]:
                    p = sigmoids(raw)[0]
                    return [1.0 - p, p]

                return binary
            return None
        intercept = member.intercept.tolist()

        def decision(raw: list[float]) -> list[float]:
            return [x + b for x, b in zip(raw[start:stop], intercept, strict=True)]

        if self.link == "softmax":

            def soft(raw: list[float]) -> list[float]:
                d = decision(raw)
                top = max(d)
                e = [math.exp(x - top) for x in d]
                total = sum(e)
                return [x / total for x in e]

            return soft
        if stop - start == 1:  # binary: one margin for the second class
            logistic = self.link == "logistic"

            def margin(raw: list[float]) -> list[float]:
                m = decision(raw)[0]
                if not logistic:
                    return [-m, m]
                p = 1.0 / (1.0 + math.exp(min(-m, EXP_LIMIT)))  # expit(m), capped as above
                return [1.0 - p, p]

            return margin
        return decision

    def scores(self, raw: Floats) -> Floats:
        if self.calibrated and len(self.members) == 1:
            return self.members[0].calibrated(raw, self.n_classes)
        if self.calibrated:
            total = np.zeros((raw.shape[0], self.n_classes))
            for member in self.members:
                total += member.calibrated(raw, self.n_classes)
            total /= len(self.members)
            return total
        d = self.members[0].decision(raw)
        if self.link == "softmax":
            return softmax(d)
        if d.shape[1] == 1:  # binary: one margin for the second class
            margin = d[:, 0]
            if self.link == "logistic":
                p = expit(margin)
                return np.column_stack([1 - p, p])
            return np.column_stack([-margin, margin])
        return d


# -- the predictor --------------------------------------------------------------------------


class LeanPredictor(ScoreMatrixPredictor):
    """Serves a lean artefact: the folded feature table and a head."""

    backend = "lean"

    def __init__(
        self,
        manifest: dict[str, Any],
        classes: tuple[str, ...],
        features: Features,
        head: Head,
    ) -> None:
        super().__init__(manifest, classes)
        self._features = features
        self._head = head
        self._budget = max(1, GATHER_BUDGET // (features.n_outputs + 1))

    def decision_matrix(self, texts: Sequence[str]) -> Floats:
        """Feature rows times coefficients (no intercept): shape (n_texts, n_outputs)."""
        if len(texts) == 1:
            return self._features.decision_one(texts[0])[np.newaxis, :]
        return self._features.decision_many(texts, self._budget)

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
        return self._head.row(self._features.decision_row(text))


# -- loading ---------------------------------------------------------------------------------


def _load_array(path: Path, dtypes: tuple[type[np.generic], ...], shape: tuple[int, ...]) -> npt.NDArray[Any]:
    """A ``.npy`` file (never a pickle) of one of ``dtypes`` and exactly ``shape``."""
    try:
        array: npt.NDArray[Any] = np.load(path, allow_pickle=False)
    except (OSError, ValueError) as exc:
        raise ModelLoadError(f"cannot read {path}: {exc}") from None
    if array.dtype not in dtypes or array.shape != shape:
        expected = "/".join(np.dtype(d).name for d in dtypes)
        raise ModelLoadError(f"{path}: expected {expected} {shape}, found {array.dtype.name} {array.shape}")
    return array


def _load_vocabulary(path: Path, separator: str, size: int, offset: int) -> dict[str, int]:
    """Terms in column order, joined by ``separator`` (chosen so no term contains it)."""
    try:
        text = path.read_bytes().decode("utf-8", "surrogatepass")
    except (OSError, UnicodeDecodeError) as exc:
        raise ModelLoadError(f"cannot read {path}: {exc}") from None
    terms = text.split(separator) if size else []
    vocabulary = dict(zip(terms, range(offset, offset + size), strict=False))
    if len(terms) != size or len(vocabulary) != size:
        raise ModelLoadError(f"{path}: expected {size} distinct terms, found {len(terms)}")
    return vocabulary


def _check_vectorizer_spec(spec: dict[str, Any]) -> None:
    if spec.get("analyzer") not in ("word", "char_wb", "char"):
        raise ModelLoadError(f"lean model: unsupported analyzer {spec.get('analyzer')!r}")
    if spec.get("strip_accents") not in (None, *ACCENT_STRIPPERS):
        raise ModelLoadError(f"lean model: unsupported strip_accents {spec.get('strip_accents')!r}")
    if spec.get("norm") not in NORM_POWER:
        raise ModelLoadError(f"lean model: unsupported norm {spec.get('norm')!r}")
    low, high = spec["ngram_range"]
    if not 1 <= low <= high:
        raise ModelLoadError(f"lean model: bad ngram_range {spec['ngram_range']!r}")


def _load_coef(model_dir: Path, spec: dict[str, Any], n_features: int, n_outputs: int) -> Floats:
    """The (n_features, n_outputs) coefficient matrix, stored dense or as CSR rows."""
    shape = (n_features, n_outputs)
    if spec["layout"] == "dense":
        coef: Floats = _load_array(model_dir / spec["file"], (np.float64,), shape)
        return np.ascontiguousarray(coef)
    if spec["layout"] != "csr":
        raise ModelLoadError(f"lean model: unknown coefficient layout {spec['layout']!r}")
    nnz = int(spec["nnz"])
    indptr = _load_array(model_dir / spec["indptr"], (np.int64,), (n_features + 1,))
    indices = _load_array(model_dir / spec["indices"], (np.uint16, np.int32), (nnz,))
    data = _load_array(model_dir / spec["data"], (np.float64,), (nnz,))
    if (
        indptr[0] != 0
        or indptr[-1] != nnz
        or np.any(np.diff(indptr) < 0)
        or (nnz and (indices.min() < 0 or indices.max() >= n_outputs))
    ):
        raise ModelLoadError("lean model: malformed sparse coefficient matrix")
    flat = np.zeros(n_features * n_outputs)
    positions = np.repeat(np.arange(n_features, dtype=np.int64) * n_outputs, np.diff(indptr))
    positions += indices
    flat[positions] = data
    return flat.reshape(shape)


def lean_files(manifest: dict[str, Any]) -> list[str]:
    """Names of the lean artefact's files, as listed in the manifest."""
    entry = manifest["backends"].get("lean")
    if not isinstance(entry, dict) or not isinstance(entry.get("files"), list):
        raise ModelLoadError("manifest has no usable 'lean' backend entry")
    return [str(name) for name in entry["files"]]


def load(model_dir: Path, manifest: dict[str, Any]) -> LeanPredictor:
    """Verify every lean file against the manifest, then build the predictor."""
    names = lean_files(manifest)
    spec_name = str(manifest["backends"]["lean"].get("spec", SPEC_NAME))
    if spec_name not in names:
        raise ModelLoadError(f"manifest lists no {spec_name} among the lean files")
    verify_files(model_dir, manifest, names)
    try:
        spec = json.loads((model_dir / spec_name).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ModelLoadError(f"cannot read {model_dir / spec_name}: {exc}") from None
    if not isinstance(spec, dict) or spec.get("format") != FORMAT:
        found = spec.get("format") if isinstance(spec, dict) else None
        raise BackendUnavailableError(f"{spec_name} has format {found!r}; this runtime reads {FORMAT}")
    python = "{}.{}".format(*sys.version_info[:2])
    if spec.get("python") != python:
        # str.lower and the re module follow the Python release that trained the model
        raise BackendUnavailableError(
            f"lean model was exported by Python {spec.get('python')}, this is {python}"
        )
    if spec.get("unicodedata") != unicodedata.unidata_version:
        # lowercasing and the regex \w depend on the Unicode tables of the Python build
        raise BackendUnavailableError(
            f"lean model was exported with Unicode {spec.get('unicodedata')}, "
            f"this Python has {unicodedata.unidata_version}"
        )
    try:
        return _build(model_dir, manifest, spec)
    except (AttributeError, IndexError, KeyError, TypeError, ValueError, re.error) as exc:
        raise ModelLoadError(f"{model_dir / spec_name} is malformed: {type(exc).__name__}: {exc}") from None


def _build(model_dir: Path, manifest: dict[str, Any], spec: dict[str, Any]) -> LeanPredictor:
    classes = tuple(str(c) for c in spec["classes"])
    if list(classes) != [str(c) for c in manifest["classes"]]:
        raise ModelLoadError("lean model classes differ from the manifest's")
    n_features = int(spec["n_features"])
    n_outputs = int(spec["n_outputs"])
    vectorizers = []
    offset = 0
    for block in spec["vectorizers"]:
        _check_vectorizer_spec(block)
        size = int(block["n_features"])
        if int(block["offset"]) != offset:
            raise ModelLoadError("lean model: vectorizer offsets are not contiguous")
        vocabulary = _load_vocabulary(
            model_dir / block["vocabulary"]["file"], str(block["vocabulary"]["separator"]), size, offset
        )
        offset += size
        idf = None
        if block["idf"] is not None:
            idf = _load_array(model_dir / block["idf"], (np.float64,), (size,))
            if not (np.isfinite(idf).all() and (idf > 0).all()):
                raise ModelLoadError(f"lean model: IDF of {block['name']!r} must be positive and finite")
        vectorizers.append(Vectorizer(block, vocabulary, idf))
    if offset != n_features or not vectorizers:
        raise ModelLoadError(f"lean model: vectorizers cover {offset} columns, coefficients {n_features}")
    coef = _load_coef(model_dir, spec["coef"], n_features, n_outputs)
    head = Head(spec["head"], n_outputs, len(classes))
    return LeanPredictor(manifest, classes, Features(vectorizers, coef), head)
