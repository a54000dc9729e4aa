"""Command line: ``python -m training train|evaluate ...``.

Exit codes: 0 success, 2 unusable data or options (one ``error: ...`` line on
stderr), 3 a quality gate refused the model: ``--min-accuracy`` / ``--min-macro-f1``, or the
regression gate (worse than the model in the output folder, not comparable with it, or no
better than the majority-class baseline; ``--allow-regression`` overrides it). The model
folder is then left as it was. 1, with nothing on stderr: stdout was closed before the output was
all written (``... | head``; a model ``train`` wrote is kept).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any, NoReturn

from pydantic import ValidationError

from training.config import EvaluateOptions, TrainConfig, add_options, problem, train_config
from training.errors import QualityGateError, TrainingError
from training.gate import summary_line
from training.train import train

EXIT_ERROR = 2
EXIT_GATE = 3


class _Parser(argparse.ArgumentParser):
    """argparse, but a usage error is one ``error: ...`` line (and exit 2), like every other error."""

    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_ERROR, f"error: {message} (see {self.prog} --help)\n")


def _parser() -> argparse.ArgumentParser:
    """The command line, derived from :class:`TrainConfig` and :class:`EvaluateOptions`."""
    parser = _Parser(
        prog="python -m training", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    train_parser = sub.add_parser("train", help="tune, train, evaluate and write a model into a layer folder")
    add_options(train_parser, TrainConfig)
    train_parser.add_argument(
        "--config", type=Path, metavar="FILE", help="TOML file with these options (see README)"
    )
    evaluate = sub.add_parser("evaluate", help="metrics of an existing model on a labelled file")
    add_options(evaluate, EvaluateOptions)
    return parser


def _progress(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def train_options(args: argparse.Namespace) -> TrainConfig:
    """Defaults, then the config file, then the command line; validated once."""
    given = {k: v for k, v in vars(args).items() if k not in ("command", "config")}
    return train_config(given, getattr(args, "config", None), progress=_progress)


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
    config = train_options(args)
    _print_summary(train(config), config.output)


def _evaluate(args: argparse.Namespace) -> None:
    from training.evaluation import evaluate_model_dir, overlap_warning

    try:
        options = EvaluateOptions.model_validate({k: v for k, v in vars(args).items() if k != "command"})
    except ValidationError as exc:  # a required option missing: argparse leaves that to the model
        raise TrainingError(
            "; ".join(problem(e, {}, config_file=False, model=EvaluateOptions) for e in exc.errors())
        ) from None
    metrics = evaluate_model_dir(
        options.model_dir,
        options.data,
        options.text_column,
        options.label_column,
        options.sklearn_version_policy,
    )
    warning = overlap_warning(metrics)
    if warning is not None:  # on stderr, so that --json output stays one JSON document
        print(warning, file=sys.stderr, flush=True)
    if options.as_json:
        print(json.dumps(metrics, indent=2, allow_nan=False))
        return
    print(f"model {metrics['model_version']} on {options.data} ({metrics['data']['rows_used']} rows used)")
    print_metrics(metrics)


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)  # a usage error exits here (2), with one line
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
