"""The regression gate: a new model must beat the majority-class baseline and must not be
worse than the model it would replace, both scored on the same held-out rows.

Run by :func:`training.train.train` after evaluation and before anything is written.
The current model is read only through the project's verifying loader
(``textclf.backends.joblib_backend.load``: ``model.joblib`` is unpickled only after its
SHA-256 matches the manifest). Every outcome is returned as a JSON-ready dict that the
manifest stores under ``gate`` and the model card renders; a refusal raises
:class:`training.errors.QualityGateError` (exit code 3), which ``allow_regression``
turns into a recorded override.

Outcomes for the current model (``gate.current.status``):

- ``none``: no ``manifest.json`` in the output folder, nothing to compare with.
- ``compared``: scored on the held-out rows; refused when the new model's selection
  metric is lower by more than ``tolerance``.
- ``not-comparable``: the held-out rows carry labels the current model does not have
  (the label sets differ), so it cannot be scored on them; refused, because the gate
  cannot show that the new model is at least as good.
- ``unreadable``: the folder holds a model that the verifying loader refuses (tampered
  or missing file, malformed manifest, incompatible libraries); refused as well: it
  is kept for inspection unless ``allow_regression`` is given.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from sklearn.metrics import accuracy_score, f1_score

from textclf.errors import TextClfError
from textclf.manifest import MANIFEST_NAME

Metric = Literal["macro_f1", "accuracy"]
DEFAULT_TOLERANCE = 0.01
METRIC_NAMES: dict[str, str] = {"macro_f1": "macro-F1", "accuracy": "accuracy"}
OVERRIDE = "--allow-regression"


@dataclass(frozen=True)
class GateOptions:
    """``metric``: the one compared (the search's ``--scoring``); ``tolerance``: how much
    lower (absolute, 0..1) the new model may score than the current one."""

    metric: Metric = "macro_f1"
    tolerance: float = DEFAULT_TOLERANCE
    allow_regression: bool = False


def scores(labels: Sequence[str], predicted: Sequence[str]) -> dict[str, float]:
    """Accuracy and macro-F1 over the classes present in ``labels`` (the same class list
    for every model scored on these rows, so the figures compare like with like)."""
    present = sorted(set(labels))
    return {
        "accuracy": round(float(accuracy_score(labels, predicted)), 6),
        "macro_f1": round(
            float(f1_score(labels, predicted, labels=present, average="macro", zero_division=0)), 6
        ),
    }


def majority_baseline(train_labels: Sequence[str], labels: Sequence[str]) -> dict[str, Any]:
    """Scores of always answering the most frequent training class (ties: first in sort order)."""
    counts = Counter(train_labels)
    label = min(counts, key=lambda c: (-counts[c], c))
    return {"label": label, **scores(labels, [label] * len(labels))}


def _listed(names: Sequence[str], most: int = 10) -> str:
    shown = ", ".join(map(repr, names[:most]))
    return shown + (f" and {len(names) - most} more" if len(names) > most else "")


def current_model(model_dir: Path, texts: Sequence[str], labels: Sequence[str]) -> dict[str, Any]:
    """The model now in ``model_dir`` scored on the held-out rows, or why it cannot be."""
    from textclf.backends.joblib_backend import load
    from textclf.manifest import read_manifest

    if not model_dir.exists():
        return {"status": "none"}
    if not (model_dir / MANIFEST_NAME).exists() and not any(model_dir.iterdir()):
        return {"status": "none"}
    try:
        manifest = read_manifest(model_dir)
        predictor = load(model_dir, manifest)
    except TextClfError as exc:
        return {"status": "unreadable", "reason": str(exc)}
    version = str(manifest["version"])
    info: dict[str, Any] = {"version": version, "created_at": manifest.get("created_at")}
    unknown = sorted(set(labels) - set(predictor.classes))
    if unknown:
        return {
            "status": "not-comparable",
            **info,
            "reason": f"the held-out rows have label(s) {_listed(unknown, 5)} that model {version} "
            f"does not know (its classes: {_listed(predictor.classes)})",
        }
    try:
        predicted = [str(p) for p in predictor.pipeline.predict(list(texts))]
    except Exception as exc:  # an intact file whose pipeline fails here (library mismatch)
        return {"status": "unreadable", **info, "reason": f"{type(exc).__name__} while predicting: {exc}"}
    return {"status": "compared", **info, **scores(labels, predicted)}


def check_regression(
    output: Path,
    train_labels: Sequence[str],
    texts: Sequence[str],
    labels: Sequence[str],
    predicted: Sequence[str],
    options: GateOptions,
) -> dict[str, Any]:
    """Compare the new model (its ``predicted`` labels for the held-out ``texts``) with the
    majority-class baseline and with the model in ``output/model``.

    Returns the record for the manifest's ``gate``; raises ``QualityGateError`` (one line,
    naming the figures and ``--allow-regression``) when the new model is refused and
    ``options.allow_regression`` is false. Nothing is written here.
    """
    from training.errors import QualityGateError

    target = output / "model"
    metric, name = options.metric, METRIC_NAMES[options.metric]
    new = scores(labels, predicted)
    baseline = majority_baseline(train_labels, labels)
    current = current_model(target, texts, labels)
    refusals: list[str] = []
    if new[metric] <= baseline[metric]:
        refusals.append(
            f"{name} {new[metric]:.4f} does not beat the majority-class baseline "
            f"{baseline[metric]:.4f} (always {baseline['label']!r})"
        )
    status = current["status"]
    if status == "compared" and new[metric] < current[metric] - options.tolerance:
        refusals.append(
            f"{name} {new[metric]:.4f} < {current[metric]:.4f} of the current model {current['version']} "
            f"(tolerance {options.tolerance:g})"
        )
    elif status == "not-comparable":
        refusals.append(f"the current model cannot be compared: {current['reason']}")
    elif status == "unreadable":
        refusals.append(f"the current model in {target} cannot be loaded to compare: {current['reason']}")
    record: dict[str, Any] = {
        "metric": metric,
        "tolerance": options.tolerance,
        "rows": len(labels),
        "new": new,
        "baseline": baseline,
        "current": current,
        "refusals": refusals,
        "decision": "passed" if not refusals else "overridden (--allow-regression)",
    }
    if refusals and not options.allow_regression:
        raise QualityGateError(
            f"regression gate failed on {len(labels)} held-out rows: {'; '.join(refusals)}; "
            f"the model was not written and {target} is unchanged ({OVERRIDE} writes it anyway)"
        )
    return record


def summary_line(gate: dict[str, Any]) -> str:
    """One line for the training summary: the figures compared and the decision."""
    name = METRIC_NAMES[gate["metric"]]
    new, baseline, current = gate["new"], gate["baseline"], gate["current"]
    line = f"regression gate: {name} {new[gate['metric']]:.4f} vs baseline {baseline[gate['metric']]:.4f}"
    if current["status"] == "compared":
        line += f", current model {current['version']} {current[gate['metric']]:.4f}"
    elif current["status"] == "none":
        line += ", no current model"
    else:
        line += f", current model {current['status']}"
    if gate["refusals"]:
        return line + f"; OVERRIDDEN (--allow-regression): {'; '.join(gate['refusals'])}"
    return line + ": passed"


def card_section(gate: dict[str, Any]) -> list[str]:
    """Markdown lines for the model card: the new model, the baseline and the replaced model."""
    metric = gate["metric"]
    new, baseline, current = gate["new"], gate["baseline"], gate["current"]
    rows = [
        ("this model", new),
        (f"majority-class baseline (always `{baseline['label']}`)", baseline),
    ]
    status = current["status"]
    if status == "compared":
        rows.append((f"replaced model `{current['version']}`", current))
        replaced = f"It replaced model `{current['version']}` (trained {current.get('created_at')})."
    elif status == "none":
        replaced = "There was no model in the output folder to compare with."
    else:
        replaced = f"The model it replaced was not compared ({status}): {current['reason']}."
    lines = [
        f"## Regression gate ({gate['rows']} held-out rows)",
        "",
        f"Compared on the same held-out rows by {METRIC_NAMES[metric]} (tolerance {gate['tolerance']:g}; "
        "macro-F1 over the classes present in these rows). " + replaced,
        "",
        "| model | accuracy | macro-F1 |",
        "| --- | ---: | ---: |",
        *(f"| {label} | {m['accuracy']:.4f} | {m['macro_f1']:.4f} |" for label, m in rows),
        "",
        f"Decision: {gate['decision']}.",
    ]
    if gate["refusals"]:
        lines += ["", "Refusals overridden:", "", *(f"- {r}" for r in gate["refusals"])]
    return lines + [""]
