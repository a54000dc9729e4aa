"""Text analysis as scikit-learn's vectorizers do it: text -> the columns of its terms.

Same preprocessing (lower-casing, accent stripping), same tokens and n-grams, in the
same order, so each text gets exactly the columns scikit-learn would count.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable

import numpy as np
import numpy.typing as npt

from textclf.backends.lean.spec import VectorizerSettings
from textclf.errors import ModelLoadError

Floats = npt.NDArray[np.float64]
# a vectorizer's analysis: text -> its columns (one per n-gram occurrence found in the vocabulary)
Analyzer = Callable[[str], list[int]]

# Words whose char_wb n-gram columns are remembered (per vectorizer), cleared when full;
# longer words are not cached, which bounds the cache's memory whatever clients send.
WORD_CACHE_SIZE = 1 << 14
MAX_CACHED_WORD = 40

# scikit-learn's _VectorizerMixin collapses runs of whitespace before character n-grams.
_WHITE_SPACES = re.compile(r"\s\s+")


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

    def __init__(self, spec: VectorizerSettings, vocabulary: dict[str, int], idf: Floats | None) -> None:
        self.name = spec.name
        self.offset = spec.offset
        self.n_features = spec.n_features
        self.binary = spec.binary
        self.sublinear_tf = spec.sublinear_tf
        self.norm: str | None = spec.norm
        self.weight: float | None = None if spec.weight is None else float(spec.weight)
        self.idf = idf
        self._vocabulary = vocabulary
        self._lowercase = spec.lowercase
        accents = spec.strip_accents
        self._strip_accents = None if accents is None else ACCENT_STRIPPERS[accents]
        self._min_n, self._max_n = spec.ngram_range
        # tuples, not lists: the garbage collector stops tracking tuples of ints
        self._word_cache: dict[str, tuple[int, ...]] = {}
        if spec.analyzer == "word":
            if spec.token_pattern is None:
                raise ModelLoadError(f"lean model: word vectorizer {spec.name!r} has no token_pattern")
            self._findall = re.compile(spec.token_pattern).findall
            stop = spec.stop_words
            self._stop_words = None if stop is None else frozenset(stop)
            self.columns: Analyzer = self._word_columns
        elif spec.analyzer == "char_wb":
            self.columns = self._char_wb_columns
        else:
            self.columns = self._char_columns

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
