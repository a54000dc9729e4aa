"""The classifier head: decision values -> the scores the service returns.

Intercepts, then the link of the fitted estimator: decision values as they are, the
logistic or softmax of a logistic regression, or the sigmoid calibrators of a
``CalibratedClassifierCV`` averaged over its members, as scikit-learn computes them.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np
import numpy.typing as npt

from textclf.backends.lean.spec import HeadSpec, MemberSpec
from textclf.errors import ModelLoadError

Floats = npt.NDArray[np.float64]

# Up to this many outputs, one text's scores are finished in plain Python floats: a
# few operations per class cost less than NumPy's per-call overhead on tiny arrays
# (NumPy wins from about 20 classes in a tight loop, later inside a request).
ROW_MAX_OUTPUTS = 24
# Largest x with a finite exp(x) (about 709.78), rounded down.
EXP_LIMIT = 709.0


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

    def __init__(self, spec: MemberSpec, n_outputs: int) -> None:
        self.kind = spec.kind
        start, stop = spec.columns
        if not 0 <= start < stop <= n_outputs:
            raise ModelLoadError(f"lean model: columns {start}:{stop} outside 0:{n_outputs}")
        self.columns = slice(start, stop)
        self.intercept = _floats(spec.intercept, stop - start, "intercept")
        self.n_classes = spec.n_classes
        if self.kind == "ovo" and (stop - start) != max(1, self.n_classes * (self.n_classes - 1) // 2):
            raise ModelLoadError("lean model: one-vs-one column count does not match its classes")
        # width of the decision function: one-vs-one margins become one column per class
        self.width = self.n_classes if self.kind == "ovo" and self.n_classes > 2 else stop - start
        calibration = spec.calibration
        self.targets: list[int] = []
        if calibration is not None:
            self.targets = list(calibration.targets)
            if (
                not self.targets
                or len(self.targets) > self.width
                or len(set(self.targets)) != len(self.targets)
            ):
                raise ModelLoadError("lean model: calibration targets do not fit the decision columns")
            n = len(self.targets)
            self.a = _floats(calibration.a, n, "calibration a")
            self.b = _floats(calibration.b, n, "calibration b")
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

    def __init__(self, spec: HeadSpec, n_outputs: int, n_classes: int) -> None:
        self.members = [Member(m, n_outputs) for m in spec.members]
        self.calibrated = spec.calibrated
        self.link = spec.link
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
