"""``train``: data file in, tuned, evaluated and gated model folder out."""

from __future__ import annotations

import logging
import math
import os
import time
import warnings
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from joblib import parallel_config
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import StratifiedKFold, train_test_split

from textclf.manifest import sha256_file
from training.config import TrainConfig as TrainConfig  # declared there, with every option
from training.data import Dataset, feature_key, list_lines, load_dataset
from training.errors import DataError, QualityGateError
from training.evaluation import metrics_of, score
from training.export_lean import export_lean
from training.gate import GateOptions, check_regression, left_as_is, write_training_rows
from training.model_folder import write_model_folder
from training.pipeline import SEED, Family, ModelOptions, build_features, build_pipeline
from training.report import MODEL_CARD, model_card, write_plots
from training.smoke import write_smoke_set
from training.tuning import search

logger = logging.getLogger(__name__)

DESCRIPTIONS: dict[Family, str] = {
    "linear-svm": "scikit-learn LinearSVC (one-vs-rest), probabilities by sigmoid calibration "
    "(CalibratedClassifierCV, one estimator + one sigmoid per class)",
    "svc-linear": "scikit-learn SVC(kernel='linear') (libsvm, one-vs-one), probabilities by sigmoid "
    "calibration (CalibratedClassifierCV, one estimator + one sigmoid per class)",
    "logreg": "scikit-learn LogisticRegression (multinomial), its own probabilities",
}


# Below this many training rows a fold fits in well under a second, and starting
# worker processes would cost more than it saves.
PARALLEL_MIN_ROWS = 2000
# From this many training rows the search uses at most 3 folds: each validation fold
# still holds thousands of rows, and the search costs about half as much.
LARGE_DATA_ROWS = 5000
LARGE_DATA_SEARCH_FOLDS = 3


def default_jobs() -> int:
    """Worker processes for cross-validation: the CPUs this process may use."""
    return max(1, os.process_cpu_count() or 1)


def check_trainable(dataset: Dataset, test_size: float | None) -> None:
    """Enough classes and rows for a stratified split (``test_size`` None: no split)."""
    counts = Counter(dataset.labels)
    if len(counts) < 2:
        only = next(iter(counts))
        dropped = dataset.report.summary()
        raise DataError(
            f"{dataset.source}: only one class ({only!r}); need at least two to train"
            + (f" (rows not used: {dropped})" if dropped else "")
        )
    if test_size is None:
        return
    rare = sorted(c for c, n in counts.items() if n < 2)
    if rare:
        raise DataError(
            f"{dataset.source}: class(es) {', '.join(map(repr, rare[:5]))} have fewer than 2 examples; "
            "each class needs at least 2 for a stratified split"
        )
    # the sizes train_test_split uses for a fractional test_size
    n_test = math.ceil(len(dataset.texts) * test_size)
    n_train = len(dataset.texts) - n_test
    if n_test < len(counts):
        raise DataError(
            f"{dataset.source}: {len(dataset.texts)} rows are too few for a {test_size:.0%} test split "
            f"over {len(counts)} classes"
        )
    if n_train < len(counts):
        raise DataError(
            f"{dataset.source}: a {test_size:.0%} test split of {len(dataset.texts)} rows leaves {n_train} "
            f"training rows for {len(counts)} classes; every class needs training rows: lower --test-size "
            "or add rows"
        )


def check_every_class_trains(source: Path, train_labels: Sequence[str], all_labels: Sequence[str]) -> None:
    """Every class of the file has rows in the training split (else the model would lack it)."""
    in_file = Counter(all_labels)
    absent = sorted(set(in_file) - set(train_labels), key=lambda c: (in_file[c], c))
    if absent:
        listed = ", ".join(f"{c!r} ({in_file[c]} rows)" for c in absent[:5])
        more = f" and {len(absent) - 5} more" if len(absent) > 5 else ""
        raise DataError(
            f"{source}: class(es) {listed}{more} have no rows in the training split (all held out for "
            "testing); lower --test-size or add rows"
        )


def check_word_tokens(
    source: Path,
    texts: Sequence[str],
    labels: Sequence[str],
    lines: Sequence[int],
    options: ModelOptions,
    folds: int,
) -> None:
    """The word features need a word token in the training texts, and in every search fold's.

    ``lines`` are the file lines of ``texts``; ``folds`` 0 means no search runs.
    """
    analyzer = build_features(options).transformer_list[0][1].build_analyzer()
    has_words = [bool(analyzer(text)) for text in texts]
    without = [line for line, ok in zip(lines, has_words, strict=True) if not ok]
    if not any(has_words):
        raise DataError(
            f"{source}: no training text has a word token (two or more letters or digits together; "
            "texts of only emoji, punctuation or one-digit numbers have none): lines "
            f"{list_lines(sorted(without))}"
        )
    if folds < 2:
        return
    splitter = StratifiedKFold(n_splits=folds, shuffle=True, random_state=SEED)
    for train_index, _ in splitter.split(list(texts), list(labels)):
        if not any(has_words[i] for i in train_index):
            with_words = [line for line, ok in zip(lines, has_words, strict=True) if ok]
            raise DataError(
                f"{source}: only {len(with_words)} training text(s) have a word token (lines "
                f"{list_lines(sorted(with_words))}), so some of the {folds} cross-validation folds have "
                "none; add texts with words, lower --cv-folds, or use --time-budget 0"
            )


def check_folds(source: Path, train_labels: Sequence[str], all_labels: Sequence[str], folds: int) -> None:
    """Every class needs ``folds`` training examples for stratified CV and calibration."""
    counts = Counter(train_labels)
    short = sorted((c for c, n in counts.items() if n < folds), key=lambda c: (counts[c], c))
    if short:
        in_file = Counter(all_labels)
        listed = ", ".join(f"{c!r} ({in_file[c]} rows)" for c in short[:5])
        more = f" and {len(short) - 5} more" if len(short) > 5 else ""
        raise DataError(
            f"{source}: class(es) {listed}{more} have fewer than {folds} training examples, one per "
            f"cross-validation fold; add examples, drop the class, or lower --cv-folds"
        )


@dataclass
class Split:
    x_train: list[str]
    x_test: list[str]
    y_train: list[str]
    y_test: list[str]
    train_lines: list[int]  # file lines of the training rows
    how: str
    test_cleaning: dict[str, object] | None = None  # the test file's cleaning report


def _split(config: TrainConfig, dataset: Dataset) -> Split:
    lines = dataset.lines or list(range(1, len(dataset.texts) + 1))
    if config.test_file is None:
        check_trainable(dataset, config.test_size)
        x_train, x_test, y_train, y_test, l_train, _ = train_test_split(
            dataset.texts,
            dataset.labels,
            lines,
            test_size=config.test_size,
            random_state=SEED,
            stratify=dataset.labels,
        )
        check_every_class_trains(config.data, y_train, dataset.labels)
        how = f"stratified {config.test_size:.0%} held-out split of the same file (seed {SEED})"
        return Split(list(x_train), list(x_test), list(y_train), list(y_test), list(l_train), how)
    check_trainable(dataset, None)
    test = load_dataset(config.test_file, config.text_column, config.label_column, config.max_text_chars)
    unknown = sorted(set(test.labels) - set(dataset.labels))
    if unknown:
        raise DataError(
            f"{config.test_file}: label(s) {', '.join(map(repr, unknown[:5]))} do not occur in the "
            f"training file {config.data.name}"
        )
    how = f"separate test file `{config.test_file.name}` ({test.report.rows_read} rows read)"
    return Split(dataset.texts, test.texts, dataset.labels, test.labels, lines, how, test.report.as_dict())


def check_gate(metrics: dict[str, Any], config: TrainConfig) -> None:
    failures = [
        f"{name} {metrics[key]:.4f} < {flag} {minimum:g}"
        for name, key, flag, minimum in (
            ("accuracy", "accuracy", "--min-accuracy", config.min_accuracy),
            ("macro-F1", "macro_f1", "--min-macro-f1", config.min_macro_f1),
        )
        if minimum is not None and metrics[key] < minimum
    ]
    if failures:
        raise QualityGateError(
            f"quality gate failed: {'; '.join(failures)}; the model was not written and "
            f"{left_as_is(config.output / 'model')}"
        )


def train(config: TrainConfig) -> dict[str, Any]:
    """Tune, fit, evaluate, gate, and write ``output/model/``. Returns the manifest."""
    started = time.perf_counter()
    report = config.progress or (lambda _message: None)
    dataset = load_dataset(config.data, config.text_column, config.label_column, config.max_text_chars)
    split = _split(config, dataset)
    x_train, x_test, y_train, y_test, how = (
        split.x_train,
        split.x_test,
        split.y_train,
        split.y_test,
        split.how,
    )
    base: ModelOptions
    if config.options is not None:
        base = config.options
        config = config.model_copy(
            update={"family": base.family, "cv_folds": base.calibration_folds, "time_budget": 0.0}
        )
    else:
        fixed = {} if config.sublinear_tf is None else {"sublinear_tf": config.sublinear_tf}
        base = ModelOptions.for_family(config.family, calibration_folds=config.cv_folds, **fixed)
    check_folds(config.data, y_train, dataset.labels, config.cv_folds)
    search_folds = (
        min(config.cv_folds, LARGE_DATA_SEARCH_FOLDS) if len(x_train) >= LARGE_DATA_ROWS else config.cv_folds
    )
    check_word_tokens(
        config.data, x_train, y_train, split.train_lines, base, search_folds if config.time_budget > 0 else 0
    )
    jobs = max(1, config.n_jobs or default_jobs()) if len(x_train) >= PARALLEL_MIN_ROWS else 1
    # progress starts once the data is accepted: a refusal stays the one line on stderr
    if dataset.report.outcomes:
        report(f"data: rows not used as read: {dataset.report.summary()} (listed in the manifest)")
    report(f"data: {len(x_train)} training rows, {len(x_test)} test rows, {len(set(y_train))} classes")
    result = search(
        base,
        x_train,
        y_train,
        folds=search_folds,
        time_budget=config.time_budget,
        sublinear_tf=config.sublinear_tf,
        scoring=config.scoring,
        n_jobs=jobs,
        progress=report,
    )
    options = result.best
    report(f"fitting the final model ({config.family}, C={options.C:g}, penalty={options.penalty}) ...")
    fit_started = time.perf_counter()
    pipeline = build_pipeline(options, min(Counter(y_train).values()))
    # n_jobs comes from the context, not from the estimator, so it never ends up in the model file.
    # Processes, not threads: liblinear's random generator is shared by the threads of a process.
    with parallel_config(n_jobs=min(jobs, config.cv_folds)), warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ConvergenceWarning)
        pipeline.fit(x_train, y_train)
    converged = not any(issubclass(w.category, ConvergenceWarning) for w in caught)
    for w in caught:  # anything else is passed on as it was
        if not issubclass(w.category, ConvergenceWarning):
            warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
    if not converged:
        report("note: the solver stopped before full convergence (recorded as model.converged=false)")
    fit_seconds = time.perf_counter() - fit_started
    report(f"evaluating on {len(x_test)} rows, writing the model folder ...")
    scored = score(pipeline, x_test, y_test)
    metrics = metrics_of(scored)
    check_gate(metrics, config)
    gate = check_regression(
        config.output,
        y_train,
        x_test,
        y_test,
        scored.predicted,
        GateOptions(config.scoring, config.regression_tolerance, config.allow_regression),
    )
    # held-out texts the model saw in training, compared as the features see them
    train_keys = {feature_key(text) for text in x_train}
    overlap = sum(feature_key(text) in train_keys for text in x_test)
    extra = {
        "model": {
            "family": config.family,
            "description": DESCRIPTIONS[config.family],
            "params": options.as_dict(),
            "converged": converged,
            "cv": result.cv,
        },
        "metrics": metrics,
        "gate": gate,
        "data": {
            "file": config.data.name,
            "sha256": sha256_file(config.data),
            "test_file": None if config.test_file is None else config.test_file.name,
            "text_column": config.text_column,
            "label_column": config.label_column,
            "rows_used": len(dataset.texts),
            "n_train": len(x_train),
            "n_test": len(x_test),
            "test_texts_also_in_training": overlap,
            "class_counts": dataset.class_counts,
            "cleaning": dataset.report.as_dict(),
            "test_file_cleaning": split.test_cleaning,
            "evaluation": how,
            "split": {"test_size": config.test_size, "seed": SEED, "stratified": True}
            if config.test_file is None
            else None,
        },
        "training_seconds": round(time.perf_counter() - started, 3),
        "final_fit_seconds": round(fit_seconds, 3),
    }

    def reports(folder: Path, manifest: dict[str, Any]) -> None:
        # for the next run's regression gate (training/gate.py); listed with its SHA-256 under reports
        manifest["data"]["training_rows"] = write_training_rows(folder, x_train)
        write_plots(scored, metrics, folder, f"{config.family} on {len(x_test)} test rows")
        (folder / MODEL_CARD).write_text(model_card(manifest), encoding="utf-8")
        write_smoke_set(folder, pipeline, x_test, y_test)  # for the deployment's pre-traffic hook

    # the lean artefact is built and parity-checked before the model folder is written
    with export_lean(pipeline, parity_texts=x_test) as lean:
        written = write_model_folder(config.output, pipeline, extra, lean=lean, write_reports=reports)
    return written.to_json()
