"""Hyper-parameter search by stratified k-fold cross-validation, within a time budget.

The search runs in *stages*. A stage fixes the feature options (and the penalty)
and tries every C of the family's grid; in each fold the features are fitted once
and every C is fitted on them, and the folds run in parallel. Stages are ordered
from most to least promising; the first always runs, a later one only if the time
spent so far plus its expected cost stays within the budget. The configuration
with the best mean score over the folds wins (ties go to the earlier, more
regularised candidate), so a complete search is deterministic; a search cut short
by the budget is reported as such.
"""

from __future__ import annotations

import math
import time
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Literal

import numpy as np
from joblib import Parallel, delayed
from sklearn.exceptions import ConvergenceWarning
from sklearn.metrics import accuracy_score, f1_score
from sklearn.model_selection import StratifiedKFold

from training.pipeline import PENALTIES, SEED, Family, ModelOptions, Penalty, build_estimator, build_features

Scoring = Literal["macro_f1", "accuracy"]

C_GRID: dict[Family, tuple[float, ...]] = {
    "linear-svm": (0.3, 1.0, 3.0),
    "svc-linear": (0.3, 1.0, 3.0),
    "logreg": (1.0, 5.0, 20.0),
}
# How much slower a stage with this penalty is than the L2 one (used to decide whether it fits the budget).
PENALTY_COST: dict[Penalty, float] = {"l2": 1.0, "l1": 8.0}

Progress = Callable[[str], None]


@dataclass(frozen=True)
class Stage:
    sublinear_tf: bool
    penalty: Penalty
    Cs: tuple[float, ...]

    def describe(self) -> str:
        return f"sublinear_tf={self.sublinear_tf}, penalty={self.penalty}"


@dataclass
class SearchResult:
    best: ModelOptions
    cv: dict[str, Any] = field(default_factory=dict)


def plan_stages(family: Family, sublinear_tf: bool | None) -> list[Stage]:
    """The stages of ``family``'s search; ``sublinear_tf`` None means "try both"."""
    Cs = C_GRID[family]
    first = True if sublinear_tf is None else sublinear_tf
    stages = [Stage(first, "l2", Cs)]
    if sublinear_tf is None:
        stages.append(Stage(not first, "l2", Cs))
    if "l1" in PENALTIES[family]:
        stages.append(Stage(first, "l1", Cs))
    return stages


def _fold_scores(
    base: ModelOptions,
    stage: Stage,
    texts: np.ndarray,
    labels: np.ndarray,
    train_idx: np.ndarray,
    test_idx: np.ndarray,
) -> list[tuple[float, float]]:
    """(accuracy, macro-F1) of each C of ``stage`` on one fold."""
    options = replace(base, sublinear_tf=stage.sublinear_tf, penalty=stage.penalty)
    features = build_features(options)
    x_train = features.fit_transform(texts[train_idx].tolist())
    x_test = features.transform(texts[test_idx].tolist())
    y_train, y_test = labels[train_idx], labels[test_idx]
    scores = []
    for C in stage.Cs:
        with warnings.catch_warnings():  # an unconverged candidate simply scores lower
            warnings.simplefilter("ignore", ConvergenceWarning)
            model = build_estimator(replace(options, C=C)).fit(x_train, y_train)
        predicted = model.predict(x_test)
        scores.append(
            (
                float(accuracy_score(y_test, predicted)),
                float(f1_score(y_test, predicted, average="macro", zero_division=0)),
            )
        )
    return scores


def search(
    base: ModelOptions,
    texts: Sequence[str],
    labels: Sequence[str],
    *,
    folds: int,
    time_budget: float,
    sublinear_tf: bool | None = None,
    scoring: Scoring = "macro_f1",
    n_jobs: int = 1,
    progress: Progress | None = None,
) -> SearchResult:
    """Pick C, penalty and sublinear TF for ``base.family`` by ``folds``-fold stratified CV.

    ``time_budget`` (seconds) bounds the search: 0 skips it and keeps ``base``.
    """
    if time_budget <= 0:
        return SearchResult(best=base, cv={"skipped": "time budget 0: default hyper-parameters"})
    report = progress or (lambda _message: None)
    x = np.asarray(texts, dtype=object)
    y = np.asarray(labels, dtype=object)
    splitter = StratifiedKFold(n_splits=folds, shuffle=True, random_state=SEED)
    splits = list(splitter.split(x, y))
    stages = plan_stages(base.family, sublinear_tf)
    started = time.perf_counter()
    candidates: list[dict[str, Any]] = []
    l2_cost: float | None = None
    stopped_at: int | None = None
    n_workers = max(1, min(n_jobs, folds))
    with Parallel(n_jobs=n_workers) as parallel:
        for number, stage in enumerate(stages, start=1):
            elapsed = time.perf_counter() - started
            if l2_cost is not None:
                expected = l2_cost * PENALTY_COST[stage.penalty]
                if elapsed + expected > time_budget:
                    stopped_at = number
                    report(
                        f"tuning: time budget {time_budget:g}s reached after {number - 1} of {len(stages)} "
                        f"stages (next would take ~{expected:.0f}s); raise --time-budget for a full search"
                    )
                    break
            report(
                f"tuning: stage {number}/{len(stages)} ({stage.describe()}; "
                f"C in {list(stage.Cs)}; {folds} folds) ..."
            )
            stage_started = time.perf_counter()
            per_fold = parallel(delayed(_fold_scores)(base, stage, x, y, tr, te) for tr, te in splits)
            took = time.perf_counter() - stage_started
            if stage.penalty == "l2":  # the latest L2 stage, once worker processes have started
                l2_cost = took
            for i, C in enumerate(stage.Cs):
                acc = np.array([fold[i][0] for fold in per_fold])
                f1 = np.array([fold[i][1] for fold in per_fold])
                candidates.append(
                    {
                        "params": {"C": C, "penalty": stage.penalty, "sublinear_tf": stage.sublinear_tf},
                        "accuracy_mean": round(float(acc.mean()), 6),
                        "accuracy_std": round(float(acc.std()), 6),
                        "macro_f1_mean": round(float(f1.mean()), 6),
                        "macro_f1_std": round(float(f1.std()), 6),
                    }
                )
            best_here = max(candidates[-len(stage.Cs) :], key=lambda c: c[f"{scoring}_mean"])
            report(
                f"tuning: stage {number} done in {took:.1f}s; best {scoring} "
                f"{best_here[f'{scoring}_mean']:.4f} at C={best_here['params']['C']}"
            )
    key = f"{scoring}_mean"
    top = max(c[key] for c in candidates)
    winner = next(c for c in candidates if math.isclose(c[key], top, rel_tol=0, abs_tol=1e-9))
    params = winner["params"]
    best = replace(base, C=params["C"], penalty=params["penalty"], sublinear_tf=params["sublinear_tf"])
    cv = {
        "folds": folds,
        "scoring": scoring,
        "stratified": True,
        "seed": SEED,
        "time_budget_seconds": time_budget,
        "seconds": round(time.perf_counter() - started, 3),
        "stages_run": len(stages) if stopped_at is None else stopped_at - 1,
        "stages_planned": len(stages),
        "complete": stopped_at is None,
        "best": winner,
        "candidates": candidates,
    }
    return SearchResult(best=best, cv=cv)
