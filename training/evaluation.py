"""Metrics of a fitted pipeline on labelled texts."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.metrics import (
    accuracy_score,
    confusion_matrix,
    f1_score,
    precision_recall_fscore_support,
    roc_auc_score,
)

from textclf.backends.joblib_backend import load as load_joblib
from textclf.errors import ModelMissingError, TextClfError
from textclf.manifest import MANIFEST_NAME, read_manifest, verify_folder
from textclf.settings import SklearnVersionPolicy
from training.data import MAX_TEXT_CHARS, load_dataset
from training.errors import DataError, TrainingError
from training.gate import ROWS_FILE, seen_rows
from training.pipeline import decision_scores


@dataclass
class Scored:
    """What evaluation needs from a model run over a labelled set."""

    classes: list[str]
    labels: list[str]
    predicted: list[str]
    decision: np.ndarray  # raw decision function, (n, n_classes), for ROC curves

    def truth_matrix(self) -> np.ndarray:
        """One column per class: 1 where the true label is that class."""
        y = np.asarray(self.labels, dtype=object)
        return np.column_stack([(y == c).astype(np.int8) for c in self.classes])


def score(pipeline: Any, texts: Sequence[str], labels: Sequence[str]) -> Scored:
    """Predict ``texts`` with ``pipeline`` (calibrated) and keep its raw margins for ROC."""
    items = list(texts)
    return Scored(
        classes=[str(c) for c in pipeline.classes_],
        labels=[str(label) for label in labels],
        predicted=[str(p) for p in pipeline.predict(items)],
        decision=decision_scores(pipeline, items),
    )


def roc_auc(scored: Scored) -> tuple[float | None, dict[str, float]]:
    """ROC-AUC of the raw decision function: the positive class's for a binary model,
    the macro average of one-vs-rest AUCs for more classes (classes whose AUC is
    undefined on this set, having no positive or no negative example, are left out)."""
    truth = scored.truth_matrix()
    per_class: dict[str, float] = {}
    for i, c in enumerate(scored.classes):
        positives = int(truth[:, i].sum())
        if 0 < positives < len(truth):
            per_class[c] = round(float(roc_auc_score(truth[:, i], scored.decision[:, i])), 6)
    if len(scored.classes) == 2:
        positive = scored.classes[1]
        return per_class.get(positive), per_class
    if not per_class:
        return None, per_class
    return round(float(np.mean(list(per_class.values()))), 6), per_class


def metrics_of(scored: Scored) -> dict[str, Any]:
    """Accuracy, macro-F1, ROC-AUC, per-class precision/recall/F1/support, confusion matrix."""
    classes, labels, predicted = scored.classes, scored.labels, scored.predicted
    precision, recall, f1, support = precision_recall_fscore_support(
        labels, predicted, labels=classes, zero_division=0
    )
    auc, auc_per_class = roc_auc(scored)
    # macro-F1 over the classes that occur (as truth or prediction): a class of the model that
    # the file lacks and the model never predicts has no F1 to average (0 would be invented)
    occurring = [c for c in classes if c in set(labels) | set(predicted)]
    return {
        "accuracy": round(float(accuracy_score(labels, predicted)), 6),
        "macro_f1": round(
            float(f1_score(labels, predicted, labels=occurring, average="macro", zero_division=0)), 6
        ),
        "roc_auc": auc,
        "roc_auc_kind": "binary" if len(classes) == 2 else "one-vs-rest macro",
        "n_test": len(labels),
        "per_class": {
            c: {
                "precision": round(float(p), 6),
                "recall": round(float(r), 6),
                "f1": round(float(f), 6),
                "support": int(s),
                **({"roc_auc": auc_per_class[c]} if c in auc_per_class else {}),
            }
            for c, p, r, f, s in zip(classes, precision, recall, f1, np.asarray(support), strict=True)
        },
        "confusion_matrix": {
            "labels": classes,
            "rows_are": "true label",
            "matrix": confusion_matrix(labels, predicted, labels=classes).tolist(),
        },
    }


def evaluate(pipeline: Any, texts: Sequence[str], labels: Sequence[str]) -> dict[str, Any]:
    """All metrics of ``pipeline`` on a labelled set."""
    return metrics_of(score(pipeline, texts, labels))


def trained_columns(manifest: dict[str, Any]) -> tuple[str, str]:
    """The (text, label) column names a model was trained with, from its manifest's ``data``;
    ``("text", "label")`` when the manifest does not record them."""
    data = manifest.get("data")
    recorded = data if isinstance(data, dict) else {}
    text, label = recorded.get("text_column"), recorded.get("label_column")
    return (
        text if isinstance(text, str) and text else "text",
        label if isinstance(label, str) and label else "label",
    )


def trained_text_limit(manifest: dict[str, Any]) -> int:
    """The ``--max-text-chars`` a model was trained with (texts are cut the same way to evaluate it)."""
    data = manifest.get("data")
    cleaning = data.get("cleaning") if isinstance(data, dict) else None
    limit = cleaning.get("max_text_chars") if isinstance(cleaning, dict) else None
    return limit if isinstance(limit, int) and not isinstance(limit, bool) and limit > 0 else MAX_TEXT_CHARS


def _no_model(exc: ModelMissingError) -> TrainingError:
    """``evaluate``'s own advice for a folder without a model (it reads ``--model-dir``, never
    ``MODEL_DIR``): the layer folder ``train --output`` takes is named as such."""
    model_dir = exc.model_dir
    if (model_dir / "model" / MANIFEST_NAME).is_file():
        return TrainingError(
            f"no model at {model_dir}: it is a layer folder; its model is in {model_dir / 'model'} "
            f"(--model-dir {model_dir / 'model'})"
        )
    hint = f"--model-dir is the folder that holds {MANIFEST_NAME}, such as layers/model/model"
    return TrainingError(str(exc.with_hint(hint)))


def evaluate_model_dir(
    model_dir: Path,
    data: Path,
    text_column: str | None = None,
    label_column: str | None = None,
    sklearn_version_policy: SklearnVersionPolicy = "warn",
) -> dict[str, Any]:
    """Metrics of the model in ``model_dir`` on a labelled file, without retraining.

    ``text_column`` / ``label_column`` default to the names recorded in the manifest
    (``data.text_column`` / ``data.label_column``, i.e. those the model was trained with).
    Before anything else, every file the manifest lists (model files and reports) must match
    its SHA-256 (:func:`textclf.manifest.verify_folder`): a folder serving would refuse is
    refused here too (:class:`TrainingError`, naming the file). The model is then loaded through
    the joblib backend; a model trained with another scikit-learn is loaded with a warning, or
    refused (``sklearn_version_policy="refuse"``).

    ``data.rows_in_training`` counts the evaluation rows whose text (as the features see it) is
    among the model's training rows (its ``training_rows.u64``): metrics on those are optimistic.
    It is ``None`` for a model that does not record its training rows.
    """
    try:
        manifest = read_manifest(model_dir)
    except ModelMissingError as exc:
        raise _no_model(exc) from None
    except TextClfError as exc:  # not JSON, another format version, a missing or mistyped key
        raise TrainingError(str(exc)) from None
    try:
        verify_folder(model_dir, manifest)
        predictor = load_joblib(model_dir, manifest, sklearn_version_policy)
    except TextClfError as exc:
        raise TrainingError(str(exc)) from None
    record = manifest.to_json()
    default_text, default_label = trained_columns(record)
    dataset = load_dataset(
        data, text_column or default_text, label_column or default_label, trained_text_limit(record)
    )
    unknown = sorted(set(dataset.labels) - set(predictor.classes))
    if unknown:
        raise DataError(
            f"{data}: label(s) {', '.join(map(repr, unknown[:5]))} are not classes of model "
            f"{predictor.version} ({', '.join(predictor.classes)})"
        )
    try:
        seen = seen_rows(model_dir, manifest, dataset.texts)
    except TextClfError as exc:  # verified above; changed since
        raise TrainingError(str(exc)) from None
    metrics = evaluate(predictor.pipeline, dataset.texts, dataset.labels)
    metrics["model_version"] = predictor.version
    metrics["data"] = {
        "file": str(data),
        "rows_used": len(dataset.texts),
        "rows_in_training": None if seen is None else int(seen.sum()),
        **dataset.report.as_dict(),
    }
    return metrics


def overlap_warning(metrics: dict[str, Any]) -> str | None:
    """One line for stderr when some evaluation rows were among the model's training rows."""
    data = metrics["data"]
    seen = data.get("rows_in_training")
    if not seen:
        return None
    return (
        f"warning: {seen} of the {data['rows_used']} evaluation rows are among the training rows of model "
        f"{metrics['model_version']} (its {ROWS_FILE}): these metrics are optimistic; evaluate on rows it "
        "was not trained on for a fair estimate"
    )
