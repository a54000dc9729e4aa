"""Command line: ``python -m training train|evaluate ...``.

Exit codes: 0 success, 2 unusable data or options (one ``error: ...`` line on
stderr), 3 a quality gate refused the model: ``--min-accuracy`` / ``--min-macro-f1``, or the
regression gate (worse than the model in the output folder, not comparable with it, or no
better than the majority-class baseline; ``--allow-regression`` overrides it). The model
folder is then left as it was.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path
from typing import Any

from training.data import MAX_TEXT_CHARS, MAX_TEXT_CHARS_LIMIT
from training.errors import QualityGateError, TrainingError
from training.gate import DEFAULT_TOLERANCE, summary_line
from training.pipeline import FAMILIES
from training.train import DEFAULT_CV_FOLDS, DEFAULT_TIME_BUDGET, TrainConfig, default_jobs, train

DEFAULT_OUTPUT = Path("layers/model")
EXIT_ERROR = 2
EXIT_GATE = 3
# the longest hyper-parameter search one may ask for (a day); beyond is a typo, not a plan
MAX_TIME_BUDGET = 86_400.0

# option -> default when neither the command line nor a config file sets it
TRAIN_DEFAULTS: dict[str, Any] = {
    "data": None,
    "output": DEFAULT_OUTPUT,
    "test_file": None,
    "quiet": False,
    "max_text_chars": MAX_TEXT_CHARS,
    "model": "linear-svm",
    "text_column": "text",
    "label_column": "label",
    "test_size": 0.2,
    "cv_folds": DEFAULT_CV_FOLDS,
    "time_budget": DEFAULT_TIME_BUDGET,
    "sublinear_tf": None,
    "scoring": "macro_f1",
    "min_accuracy": None,
    "min_macro_f1": None,
    "regression_tolerance": DEFAULT_TOLERANCE,
    "n_jobs": None,
}


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m training", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    sub = parser.add_subparsers(dest="command", required=True)

    train = sub.add_parser("train", help="tune, train, evaluate and write a model into a layer folder")
    train.add_argument("--data", type=Path, help="labelled CSV or JSONL file (required here or in --config)")
    train.add_argument("--text-column", help="column / field with the text (default: text)")
    train.add_argument("--label-column", help="column / field with the label (default: label)")
    train.add_argument(
        "--output",
        type=Path,
        help="layer folder; the model goes to OUTPUT/model/ (default: layers/model)",
    )
    train.add_argument("--test-size", type=float, help="held-out share for evaluation (default: 0.2)")
    train.add_argument(
        "--test-file", type=Path, help="evaluate on this labelled file instead (train on all of --data)"
    )
    train.add_argument("--model", choices=FAMILIES, help="model family (default: linear-svm)")
    train.add_argument("--cv-folds", type=int, help="folds for tuning and calibration (default: 5)")
    train.add_argument(
        "--time-budget",
        type=float,
        metavar="SECONDS",
        help="limit of the hyper-parameter search; 0 = no search, family defaults (default: 60)",
    )
    train.add_argument(
        "--sublinear-tf",
        action=argparse.BooleanOptionalAction,
        help="use 1+log(tf) term weights (default: let the search decide)",
    )
    train.add_argument("--scoring", choices=("macro_f1", "accuracy"), help="CV selection metric")
    train.add_argument("--min-accuracy", type=float, help="quality gate: refuse a model below this")
    train.add_argument("--min-macro-f1", type=float, help="quality gate: refuse a model below this")
    train.add_argument(
        "--regression-tolerance",
        type=float,
        metavar="X",
        help="regression gate: refuse a model scoring more than X below the current model in OUTPUT "
        f"on the held-out rows, by the --scoring metric (default: {DEFAULT_TOLERANCE})",
    )
    train.add_argument(
        "--allow-regression",
        action="store_true",
        help="write the model even if the regression gate refuses it (worse than the current model, "
        "not comparable with it, or not better than the majority-class baseline); recorded in the card",
    )
    train.add_argument("--n-jobs", type=int, help="parallel CV workers (default: all CPUs of this process)")
    train.add_argument("--config", type=Path, help="TOML file with these options (see README)")
    train.add_argument(
        "--max-text-chars",
        type=int,
        metavar="N",
        help=f"texts longer than N characters are cut to N, and reported (default: {MAX_TEXT_CHARS})",
    )
    train.add_argument("--quiet", action="store_true", default=None, help="no progress lines on stderr")

    evaluate = sub.add_parser("evaluate", help="metrics of an existing model on a labelled file")
    evaluate.add_argument("--model-dir", type=Path, required=True, help="folder holding manifest.json")
    evaluate.add_argument("--data", type=Path, required=True, help="labelled CSV or JSONL file")
    evaluate.add_argument(
        "--text-column", help="column / field with the text (default: the one the model was trained with)"
    )
    evaluate.add_argument(
        "--label-column", help="column / field with the label (default: the one the model was trained with)"
    )
    evaluate.add_argument("--json", action="store_true", help="print the metrics as JSON")
    return parser


def _progress(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def train_options(args: argparse.Namespace) -> dict[str, Any]:
    """Defaults, then the config file, then the command line; validated."""
    from training.config import load_config

    options = dict(TRAIN_DEFAULTS)
    if args.config is not None:
        options.update(load_config(args.config))
    options.update({k: getattr(args, k) for k in TRAIN_DEFAULTS if getattr(args, k) is not None})
    if options["data"] is None:
        raise TrainingError("--data is required (on the command line or as `data` in the --config file)")
    budget = options["time_budget"]
    checks = [
        (
            0.0 < options["test_size"] < 1.0,
            f"--test-size must be between 0 and 1, got {options['test_size']}",
        ),
        (options["cv_folds"] >= 2, f"--cv-folds must be at least 2, got {options['cv_folds']}"),
        (
            math.isfinite(budget) and 0 <= budget <= MAX_TIME_BUDGET,
            f"--time-budget must be a number of seconds from 0 to {MAX_TIME_BUDGET:g} (a day), got {budget}",
        ),
        (
            1 <= options["max_text_chars"] <= MAX_TEXT_CHARS_LIMIT,
            f"--max-text-chars must be from 1 to {MAX_TEXT_CHARS_LIMIT}, got {options['max_text_chars']}",
        ),
        (
            options["n_jobs"] is None or options["n_jobs"] >= 1,
            f"--n-jobs must be at least 1, got {options['n_jobs']}",
        ),
    ]
    for name in ("min_accuracy", "min_macro_f1", "regression_tolerance"):
        value = options[name]
        flag = "--" + name.replace("_", "-")
        checks.append((value is None or 0.0 <= value <= 1.0, f"{flag} must be between 0 and 1, got {value}"))
    for ok, message in checks:
        if not ok:
            raise TrainingError(message)
    return options


def print_metrics(metrics: dict[str, Any]) -> None:
    auc = metrics["roc_auc"]
    auc_text = "n/a" if auc is None else f"{auc:.4f}"
    print(
        f"accuracy {metrics['accuracy']:.4f}  macro-F1 {metrics['macro_f1']:.4f}  "
        f"ROC-AUC {auc_text} ({metrics['roc_auc_kind']})  n={metrics['n_test']}"
    )
    for label, m in metrics["per_class"].items():
        print(
            f"  {label:<30} precision {m['precision']:.3f}  recall {m['recall']:.3f}  "
            f"f1 {m['f1']:.3f}  n={m['support']}"
        )


def _print_summary(manifest: dict[str, Any], output: Path) -> None:
    data = manifest["data"]
    model = manifest["model"]
    cv = model["cv"]
    cleaning = data["cleaning"]
    not_used = "; ".join(f"{r['count']} {r['outcome']}: {r['reason']}" for r in cleaning["rows"]) or "none"
    print(
        f"data: {data['rows_used']} rows used of {cleaning['rows_read']} read ({data['n_train']} train / "
        f"{data['n_test']} test; {data['test_texts_also_in_training']} test texts also in training); "
        f"rows not used as read: {not_used}"
    )
    params = model["params"]
    print(
        f"model: {model['family']}  C={params['C']:g}  penalty={params['penalty']}  "
        f"sublinear_tf={params['sublinear_tf']}"
    )
    if "best" in cv:
        best = cv["best"]
        print(
            f"cv ({cv['folds']}-fold, {len(cv['candidates'])} candidates): accuracy "
            f"{best['accuracy_mean']:.4f} ± {best['accuracy_std']:.4f}  macro-F1 "
            f"{best['macro_f1_mean']:.4f} ± {best['macro_f1_std']:.4f}"
        )
    print_metrics(manifest["metrics"])
    if "gate" in manifest:
        print(summary_line(manifest["gate"]))
    print(f"model {manifest['version']} written to {output / 'model'} (with MODEL_CARD.md and plots)")


def _train(args: argparse.Namespace) -> None:
    options = train_options(args)
    config = TrainConfig(
        data=options["data"],
        output=options["output"],
        text_column=options["text_column"],
        label_column=options["label_column"],
        test_size=options["test_size"],
        test_file=options["test_file"],
        family=options["model"],
        cv_folds=options["cv_folds"],
        time_budget=options["time_budget"],
        sublinear_tf=options["sublinear_tf"],
        scoring=options["scoring"],
        min_accuracy=options["min_accuracy"],
        min_macro_f1=options["min_macro_f1"],
        regression_tolerance=options["regression_tolerance"],
        allow_regression=args.allow_regression,
        n_jobs=options["n_jobs"] or default_jobs(),
        max_text_chars=options["max_text_chars"],
        progress=None if options["quiet"] else _progress,
    )
    _print_summary(train(config), config.output)


def _evaluate(args: argparse.Namespace) -> None:
    from training.evaluation import evaluate_model_dir

    metrics = evaluate_model_dir(args.model_dir, args.data, args.text_column, args.label_column)
    if args.json:
        print(json.dumps(metrics, indent=2, allow_nan=False))
        return
    print(f"model {metrics['model_version']} on {args.data} ({metrics['data']['rows_used']} rows used)")
    print_metrics(metrics)


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        if args.command == "train":
            _train(args)
        else:
            _evaluate(args)
    except QualityGateError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_GATE
    except TrainingError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_ERROR
    return 0
