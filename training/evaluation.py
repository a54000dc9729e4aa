"""Metrics of a fitted model on labelled texts."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from sklearn.metrics import accuracy_score, f1_score, precision_recall_fscore_support


def evaluate(model: Any, texts: Sequence[str], labels: Sequence[str]) -> dict[str, Any]:
    """Accuracy, macro-F1 and per-class precision/recall/F1/support."""
    predicted = model.predict(list(texts))
    classes = [str(c) for c in model.classes_]
    precision, recall, f1, support = precision_recall_fscore_support(
        labels, predicted, labels=classes, zero_division=0
    )
    return {
        "accuracy": round(float(accuracy_score(labels, predicted)), 6),
        "macro_f1": round(float(f1_score(labels, predicted, average="macro", zero_division=0)), 6),
        "n_test": len(labels),
        "per_class": {
            c: {
                "precision": round(float(p), 6),
                "recall": round(float(r), 6),
                "f1": round(float(f), 6),
                "support": int(s),
            }
            for c, p, r, f, s in zip(classes, precision, recall, f1, np.asarray(support), strict=True)
        },
    }
