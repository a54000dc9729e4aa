"""Human-readable outputs of a training run: ROC and confusion-matrix plots, the model card.

They are written next to ``manifest.json`` and listed in its ``reports`` (with
SHA-256), but they are not part of the model: the model version is a hash of the
model files alone, so re-rendering a plot never changes it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")  # files only, never a window

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from sklearn.metrics import auc, roc_curve  # noqa: E402

from training.evaluation import Scored  # noqa: E402
from training.gate import card_section  # noqa: E402

ROC_PLOT = "roc_curve.png"
CONFUSION_PLOT = "confusion_matrix.png"
MODEL_CARD = "MODEL_CARD.md"
# beyond this many classes curves are drawn thin and unlabelled, with the micro-average on top
LABELLED_CURVES = 10


def plot_roc(scored: Scored, path: Path, title: str) -> None:
    truth = scored.truth_matrix()
    fig, ax = plt.subplots(figsize=(6.4, 6.0), dpi=100)
    classes = scored.classes
    if len(classes) == 2:
        fpr, tpr, _ = roc_curve(truth[:, 1], scored.decision[:, 1])
        ax.plot(fpr, tpr, lw=2, label=f"{classes[1]} vs {classes[0]} (AUC {auc(fpr, tpr):.4f})")
    else:
        many = len(classes) > LABELLED_CURVES
        for i, c in enumerate(classes):
            if 0 < truth[:, i].sum() < len(truth):
                fpr, tpr, _ = roc_curve(truth[:, i], scored.decision[:, i])
                if many:
                    ax.plot(fpr, tpr, lw=0.6, color="0.7")
                else:
                    ax.plot(fpr, tpr, lw=1.5, label=f"{c} (AUC {auc(fpr, tpr):.4f})")
        fpr, tpr, _ = roc_curve(truth.ravel(), scored.decision.ravel())
        ax.plot(fpr, tpr, lw=2.5, color="black", label=f"micro-average (AUC {auc(fpr, tpr):.4f})")
        if many:
            ax.plot([], [], lw=0.6, color="0.7", label=f"each of {len(classes)} classes, one-vs-rest")
    ax.plot([0, 1], [0, 1], ls="--", lw=1, color="0.5")
    ax.set(
        xlim=(0, 1), ylim=(0, 1.01), xlabel="false positive rate", ylabel="true positive rate", title=title
    )
    ax.legend(loc="lower right", fontsize="small")
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def plot_confusion(matrix: list[list[int]], classes: list[str], path: Path, title: str) -> None:
    counts = np.asarray(matrix, dtype=np.float64)
    n = len(classes)
    size = min(max(5.0, 0.22 * n + 3.0), 24.0)
    fig, ax = plt.subplots(figsize=(size, size), dpi=100)
    # colour by the share of each true class, so that small classes show as clearly as big ones
    shares = counts / np.maximum(counts.sum(axis=1, keepdims=True), 1)
    image = ax.imshow(shares, cmap="Blues", vmin=0, vmax=1)
    fig.colorbar(image, ax=ax, fraction=0.046, pad=0.04, label="share of the true class")
    ticks = np.arange(n)
    fontsize = 10 if n <= 10 else max(4, 9 - n // 20)
    ax.set_xticks(ticks, classes, rotation=90, fontsize=fontsize)
    ax.set_yticks(ticks, classes, fontsize=fontsize)
    ax.set(xlabel="predicted label", ylabel="true label", title=title)
    if n <= 20:
        for i in range(n):
            for j in range(n):
                if counts[i, j]:
                    colour = "white" if shares[i, j] > 0.5 else "black"
                    ax.text(j, i, str(int(counts[i, j])), ha="center", va="center", color=colour, fontsize=9)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def write_plots(scored: Scored, metrics: dict[str, Any], folder: Path, subject: str) -> None:
    plot_roc(scored, folder / ROC_PLOT, f"ROC, {subject}")
    plot_confusion(
        metrics["confusion_matrix"]["matrix"],
        scored.classes,
        folder / CONFUSION_PLOT,
        f"Confusion, {subject}",
    )


def _pct(x: float | None) -> str:
    return "n/a" if x is None else f"{x:.4f}"


def _cell(text: object) -> str:
    """``text`` safe inside a Markdown table cell (pipes escaped, control characters shown)."""
    shown = "".join(ch if ch.isprintable() else f"\\u{ord(ch):04x}" for ch in str(text))
    return shown.replace("|", "\\|")


def _rows_not_used(title: str, cleaning: dict[str, Any] | None) -> list[str]:
    """A table of every refused, dropped or cut row of a cleaning report, by reason (with lines)."""
    if cleaning is None:
        return []
    if not cleaning["rows"]:
        return [f"{title}: none.", ""]
    lines = [f"{title}:", "", "| outcome | reason | rows | lines |", "| --- | --- | ---: | --- |"]
    for row in cleaning["rows"]:
        shown = ", ".join(map(str, row["lines"])) + (" ..." if row["count"] > len(row["lines"]) else "")
        lines.append(f"| {row['outcome']} | {_cell(row['reason'])} | {row['count']} | {shown} |")
    return [*lines, ""]


def _labels_merged(cleaning: dict[str, Any]) -> list[str]:
    """A table of classes whose labels were spelled otherwise in the file."""
    merged: dict[str, dict[str, int]] = cleaning["labels_merged"]
    if not merged:
        return []
    lines = [
        "Labels written otherwise in the file, normalised to one class (see the README's label rule):",
        "",
        "| class | spelling in the file | rows |",
        "| --- | --- | ---: |",
    ]
    for label, spellings in merged.items():
        lines += [f"| {_cell(label)} | `{_cell(s)}` | {n} |" for s, n in spellings.items()]
    return [*lines, ""]


def model_card(manifest: dict[str, Any]) -> str:
    """MODEL_CARD.md from the manifest (so the card never says anything the manifest does not)."""
    data = manifest["data"]
    cleaning = data["cleaning"]
    metrics = manifest["metrics"]
    model = manifest["model"]
    cv = model.get("cv", {})
    counts: dict[str, int] = data["class_counts"]
    total = sum(counts.values())
    lines = [
        f"# Model card: {manifest['version']}",
        "",
        f"Text classifier over {len(manifest['classes'])} classes, trained {manifest['created_at']} by "
        "`python -m training train`. The version is a content hash of the model files; the same data, "
        "options and library versions give the same version.",
        "",
        "## Data",
        "",
        f"- File: `{data['file']}` (text column `{data['text_column']}`, "
        f"label column `{data['label_column']}`)",
        f"- Rows read: {cleaning['rows_read']}; used after cleaning: {data['rows_used']}",
        f"- Evaluation: {data['evaluation']}",
        f"- Training rows: {data['n_train']}; evaluation rows: {data['n_test']}; evaluation texts also in "
        f"training (compared as the features see them: case and spacing aside): "
        f"{data['test_texts_also_in_training']}",
        "",
        *_rows_not_used("Rows of the training file not used as read", cleaning),
        *_rows_not_used("Rows of the test file not used as read", data.get("test_file_cleaning")),
        *_labels_merged(cleaning),
        "| class | rows | share |",
        "| --- | ---: | ---: |",
        *(f"| {_cell(c)} | {n} | {n / total:.1%} |" for c, n in counts.items()),
        "",
        f"Balance: the smallest class has {min(counts.values())} rows, the largest {max(counts.values())} "
        f"(ratio {max(counts.values()) / min(counts.values()):.1f}).",
        "",
        "## Model",
        "",
        f"- Family: `{model['family']}` — {model['description']}",
        "- Features: TF-IDF of word n-grams and character n-grams within word boundaries (`char_wb`), "
        "concatenated",
        "",
        "| hyper-parameter | value |",
        "| --- | --- |",
        *(f"| {k} | {v} |" for k, v in model["params"].items()),
        "",
        "## Cross-validation (training split only)",
        "",
    ]
    if "best" in cv:
        best = cv["best"]
        lines += [
            f"Stratified {cv['folds']}-fold search over C, penalty and sublinear TF, chosen by "
            f"{cv['scoring']}; {len(cv['candidates'])} candidates in {cv['stages_run']} of "
            f"{cv['stages_planned']} stages, {cv['seconds']:.1f}s"
            + ("" if cv["complete"] else " (cut short by the time budget)")
            + ".",
            "",
            f"- Chosen: accuracy {best['accuracy_mean']:.4f} ± {best['accuracy_std']:.4f}, "
            f"macro-F1 {best['macro_f1_mean']:.4f} ± {best['macro_f1_std']:.4f} (mean ± std over folds)",
        ]
    else:
        lines.append(f"Not run: {cv.get('skipped', 'no search')}.")
    lines += [
        "",
        f"## Evaluation ({metrics['n_test']} held-out rows)",
        "",
        f"- Accuracy: {metrics['accuracy']:.4f}",
        f"- Macro-F1: {metrics['macro_f1']:.4f}",
        f"- ROC-AUC ({metrics['roc_auc_kind']}, from the raw decision function): {_pct(metrics['roc_auc'])}",
        f"- Plots: [{ROC_PLOT}]({ROC_PLOT}), [{CONFUSION_PLOT}]({CONFUSION_PLOT})",
        "",
        "| class | precision | recall | F1 | support |",
        "| --- | ---: | ---: | ---: | ---: |",
        *(
            f"| {c} | {m['precision']:.3f} | {m['recall']:.3f} | {m['f1']:.3f} | {m['support']} |"
            for c, m in metrics["per_class"].items()
        ),
        "",
        *(card_section(manifest["gate"]) if "gate" in manifest else []),
        "## Known limitations",
        "",
        "- A bag of n-grams: word order beyond the n-gram window, negation and sarcasm are only "
        "partly captured, and words never seen in training carry no weight (character n-grams soften "
        "this for misspellings).",
        "- It always answers with one of the classes above, even for text about something else; "
        "a low top score is the only hint that a text is out of scope.",
        "- Scores are calibrated on the training split by cross-validation; they describe data like "
        "the training file and drift when the incoming text changes.",
        f"- Metrics come from {metrics['n_test']} rows; with few rows per class, per-class "
        "figures are noisy.",
        "- Trained with " + ", ".join(f"{k} {v}" for k, v in manifest["libraries"].items()) + "; loading "
        "under another scikit-learn version logs a warning, or refuses with "
        "`SKLEARN_VERSION_POLICY=refuse` (`evaluate --sklearn-version-policy refuse`).",
        "",
    ]
    return "\n".join(lines)
