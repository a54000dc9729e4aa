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
- ``compared``: scored on the held-out rows that were not among its own training rows
  (every model folder records a fingerprint of those, ``training_rows.u64``: one
  8-byte prefix of the SHA-256 of each cleaned training text in its feature form, sorted); the new model is
  scored on the same rows, and refused when its selection metric is lower by more
  than ``tolerance``. Without that file (models from before it existed) every held-out
  row is used and ``rows_seen`` is ``None``: rows the current model was trained on
  then flatter it.
- ``not-comparable``: the held-out rows carry labels the current model does not have
  (the label sets differ), so it cannot be scored on them, or fewer than
  ``MIN_UNSEEN_ROWS`` of them are new to it; refused, because the gate cannot show
  that the new model is at least as good.
- ``sample``: the held-out rows carry labels that the current model does not have, and
  the current model is the project's bundled sample (trained on
  ``training/data/support_tickets.csv``, recognised by the SHA-256 of its training file in
  its manifest, ``data.sha256``): replacing it with a model of one's own data is the
  expected first step, so this is recorded, not refused.
- ``unreadable``: the folder holds a model that the verifying loader refuses (tampered
  or missing file, malformed manifest, incompatible libraries); refused as well: it
  is kept for inspection unless ``allow_regression`` is given. A folder with files but no
  ``manifest.json`` is recorded so too (``found``: ``files without a manifest``): it holds
  no model to compare with, and files that ``allow_regression`` would replace.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
from sklearn.metrics import accuracy_score, f1_score

from textclf.errors import IntegrityError, ModelMissingError, TextClfError
from textclf.manifest import MANIFEST_NAME, Manifest, sha256_file
from training.data import feature_key

Metric = Literal["macro_f1", "accuracy"]
DEFAULT_TOLERANCE = 0.01
METRIC_NAMES: dict[str, str] = {"macro_f1": "macro-F1", "accuracy": "accuracy"}
OVERRIDE = "--allow-regression"
ROWS_FILE = "training_rows.u64"
ROWS_HASH = (
    "first 8 bytes of the SHA-256 of each cleaned training text in its feature form (lower case, "
    "whitespace runs as one space; UTF-8), big-endian uint64, sorted"
)
# what model folders written before the feature form was hashed say (their texts as they were)
ROWS_HASH_EXACT = (
    "first 8 bytes of the SHA-256 of each cleaned training text (UTF-8), big-endian uint64, sorted"
)
# the data the bundled sample model is trained on (``make run`` trains it when there is no model)
SAMPLE_DATA = Path(__file__).resolve().parent / "data" / "support_tickets.csv"
# the current model is compared only when at least this many held-out rows (or all of them,
# when there are fewer) were not among its training rows
MIN_UNSEEN_ROWS = 20


def row_hashes(texts: Sequence[str], exact: bool = False) -> np.ndarray:
    """``ROWS_HASH`` of each text, in order (uint64); ``exact``: ``ROWS_HASH_EXACT``.

    Texts equal up to case and spacing have identical features, so a held-out row that
    differs from a training row only so counts as seen by that model.
    """
    forms = texts if exact else [feature_key(t) for t in texts]
    return np.array(
        [int.from_bytes(hashlib.sha256(t.encode("utf-8")).digest()[:8], "big") for t in forms],
        dtype=np.uint64,
    )


def write_training_rows(folder: Path, texts: Sequence[str]) -> dict[str, Any]:
    """Write ``folder/ROWS_FILE`` for a later gate; returns its description for the manifest."""
    hashes = np.unique(row_hashes(texts))
    (folder / ROWS_FILE).write_bytes(hashes.astype(">u8").tobytes())
    return {"file": ROWS_FILE, "rows": int(hashes.size), "hash": ROWS_HASH}


def seen_rows(model_dir: Path, manifest: Manifest, texts: Sequence[str]) -> np.ndarray | None:
    """Which ``texts`` the model in ``model_dir`` was trained on, from its verified
    ``ROWS_FILE``; None when it has none. Raises IntegrityError when the file does not
    match the SHA-256 the manifest lists for it."""
    spec = (manifest.data or {}).get("training_rows")
    if not isinstance(spec, dict) or spec.get("file") != ROWS_FILE or manifest.reports is None:
        return None
    path = model_dir / ROWS_FILE
    listed = manifest.reports.get(ROWS_FILE)
    if listed is None or not path.is_file() or sha256_file(path) != listed.sha256:
        raise IntegrityError(f"{path} is missing or does not match its manifest hash")
    known = np.frombuffer(path.read_bytes(), dtype=">u8").astype(np.uint64)
    return np.isin(row_hashes(texts, exact=spec.get("hash") == ROWS_HASH_EXACT), known)


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


def is_sample(manifest: Manifest) -> bool:
    """Whether ``manifest`` describes a model trained on the bundled sample data."""
    recorded = (manifest.data or {}).get("sha256")
    return isinstance(recorded, str) and SAMPLE_DATA.is_file() and recorded == sha256_file(SAMPLE_DATA)


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
    except ModelMissingError:  # files, but none of them a manifest: nothing training wrote
        return {
            "status": "unreadable",
            "found": "files without a manifest",
            "reason": f"{model_dir} holds files but no {MANIFEST_NAME}, so it is not a model folder that "
            "training wrote (move those files away, or train into another --output)",
        }
    except TextClfError as exc:
        return {"status": "unreadable", "reason": str(exc)}
    version = manifest.version
    info: dict[str, Any] = {"version": version, "created_at": manifest.created_at}
    unknown = sorted(set(labels) - set(predictor.classes))
    if unknown and is_sample(manifest):
        return {
            "status": "sample",
            **info,
            "reason": f"model {version} is the bundled sample (trained on {SAMPLE_DATA.name}) and "
            f"the held-out rows have label(s) {_listed(unknown, 5)} that it does not know",
        }
    if unknown:
        return {
            "status": "not-comparable",
            **info,
            "reason": f"the held-out rows have label(s) {_listed(unknown, 5)} that model {version} "
            f"does not know (its classes: {_listed(predictor.classes)})",
        }
    try:
        seen = seen_rows(model_dir, manifest, texts)
    except TextClfError as exc:
        return {"status": "unreadable", **info, "reason": str(exc)}
    keep = list(range(len(texts))) if seen is None else [i for i, s in enumerate(seen) if not s]
    info["rows"] = len(keep)
    info["rows_seen"] = None if seen is None else int(seen.sum())
    if len(keep) < min(MIN_UNSEEN_ROWS, len(texts)):
        return {
            "status": "not-comparable",
            **info,
            "reason": f"only {len(keep)} of the {len(texts)} held-out rows were not among the training "
            f"rows of model {version} (a fair comparison needs {min(MIN_UNSEEN_ROWS, len(texts))})",
        }
    try:
        predicted = [str(p) for p in predictor.pipeline.predict([texts[i] for i in keep])]
    except Exception as exc:  # an intact file whose pipeline fails here (library mismatch)
        # the exception's text is left out: it may quote an input row
        reason = f"{type(exc).__name__} while predicting (do its libraries match this environment?)"
        return {"status": "unreadable", **info, "reason": reason}
    return {"status": "compared", **info, **scores([labels[i] for i in keep], predicted), "keep": keep}


def left_as_is(target: Path) -> str:
    """What a refused training left at ``target`` (the model folder), true whether or not a
    model was there: ``TARGET is unchanged``, or ``there is still no model in TARGET`` when it
    has no ``manifest.json`` (no such folder, an empty one, or other files only)."""
    if (target / MANIFEST_NAME).is_file():
        return f"{target} is unchanged"
    return f"there is still no model in {target}"


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
    if status == "compared":
        keep = current.pop("keep")
        # the new model on exactly the rows the current one was scored on
        current["new_on_these_rows"] = mine = scores([labels[i] for i in keep], [predicted[i] for i in keep])
        if mine[metric] < current[metric] - options.tolerance:
            refusals.append(
                f"{name} {mine[metric]:.4f} < {current[metric]:.4f} of the current model "
                f"{current['version']} on {len(keep)} rows new to it (tolerance {options.tolerance:g})"
            )
    elif status == "not-comparable":
        refusals.append(f"the current model cannot be compared: {current['reason']}")
    elif status == "unreadable" and "found" in current:
        refusals.append(f"there is no current model to compare with, but {current['reason']}")
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
            f"the model was not written and {left_as_is(target)} ({OVERRIDE} writes it anyway)"
        )
    return record


def summary_line(gate: dict[str, Any]) -> str:
    """One line for the training summary: the figures compared and the decision."""
    name = METRIC_NAMES[gate["metric"]]
    new, baseline, current = gate["new"], gate["baseline"], gate["current"]
    line = f"regression gate: {name} {new[gate['metric']]:.4f} vs baseline {baseline[gate['metric']]:.4f}"
    if current["status"] == "compared":
        line += (
            f"; on {current['rows']} rows new to the current model {current['version']}: "
            f"{current['new_on_these_rows'][gate['metric']]:.4f} vs {current[gate['metric']]:.4f}"
        )
    elif current["status"] == "none":
        line += ", no current model"
    elif "found" in current:
        line += f", no current model ({current['found']})"
    elif current["status"] == "sample":
        line += f", replaces the bundled sample model {current['version']} (other labels: not compared)"
    else:
        line += f", current model {current['status']}"
    if gate["refusals"]:
        return line + f"; OVERRIDDEN (--allow-regression): {'; '.join(gate['refusals'])}"
    return line + ": passed"


def card_section(gate: dict[str, Any]) -> list[str]:
    """Markdown lines for the model card: the new model, the baseline and the replaced model."""
    metric = gate["metric"]
    new, baseline, current = gate["new"], gate["baseline"], gate["current"]
    lines = [
        f"## Regression gate ({gate['rows']} held-out rows)",
        "",
        f"Before it was written, this model was compared by {METRIC_NAMES[metric]} (the search's scoring; "
        f"tolerance {gate['tolerance']:g}; macro-F1 over the classes present in the rows) with the "
        "majority-class baseline and with the model it would replace.",
        "",
        "| model | rows | accuracy | macro-F1 |",
        "| --- | ---: | ---: | ---: |",
        f"| this model | {gate['rows']} | {new['accuracy']:.4f} | {new['macro_f1']:.4f} |",
        f"| majority-class baseline (always `{baseline['label']}`) | {gate['rows']} | "
        f"{baseline['accuracy']:.4f} | {baseline['macro_f1']:.4f} |",
    ]
    status = current["status"]
    if status == "compared":
        mine, n = current["new_on_these_rows"], current["rows"]
        seen = current["rows_seen"]
        lines += [
            f"| this model, on the rows new to the replaced model | {n} | {mine['accuracy']:.4f} | "
            f"{mine['macro_f1']:.4f} |",
            f"| replaced model `{current['version']}` | {n} | {current['accuracy']:.4f} | "
            f"{current['macro_f1']:.4f} |",
            "",
            f"The replaced model `{current['version']}` was trained {current.get('created_at')}; "
            + (
                "it does not record its training rows, so all held-out rows were used, including any it "
                "was trained on (which flatter it)."
                if seen is None
                else f"{seen} of the held-out rows were among its training rows and were left out."
            ),
        ]
    elif status == "none":
        lines += ["", "There was no model in the output folder to compare with."]
    elif status == "sample":
        lines += [
            "",
            f"It replaced the bundled sample model `{current['version']}`, which has other labels: "
            "not compared.",
        ]
    elif "found" in current:
        lines += ["", f"There was no model in the output folder to compare with: {current['reason']}."]
    else:
        lines += ["", f"The model in the output folder was not compared ({status}): {current['reason']}."]
    lines += ["", f"Decision: {gate['decision']}."]
    if gate["refusals"]:
        lines += ["", "Refusals overridden:", "", *(f"- {r}" for r in gate["refusals"])]
    return lines + [""]
