"""Command line: ``python -m training train|evaluate ...``."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from training.errors import TrainingError

DEFAULT_OUTPUT = Path("layers/model")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m training", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    train = sub.add_parser("train", help="train a model and write it into a layer folder")
    train.add_argument("--data", type=Path, required=True, help="labelled CSV or JSONL file")
    train.add_argument("--text-column", default="text")
    train.add_argument("--label-column", default="label")
    train.add_argument(
        "--output",
        type=Path,
        default=DEFAULT_OUTPUT,
        help="layer folder; the model goes to OUTPUT/model/ (default: layers/model)",
    )
    train.add_argument("--test-size", type=float, default=0.2)
    return parser


def _print_summary(manifest: dict[str, object], output: Path) -> None:
    metrics = manifest["metrics"]
    assert isinstance(metrics, dict)
    data = manifest["data"]
    assert isinstance(data, dict)
    cleaning = data["cleaning"]
    print(
        f"data: {data['rows_used']} rows used ({data['n_train']} train / {data['n_test']} test); "
        f"cleaning: {cleaning}"
    )
    print(f"accuracy {metrics['accuracy']:.4f}  macro-F1 {metrics['macro_f1']:.4f}")
    for label, m in metrics["per_class"].items():
        print(
            f"  {label:<30} precision {m['precision']:.3f}  recall {m['recall']:.3f}  "
            f"f1 {m['f1']:.3f}  n={m['support']}"
        )
    print(f"model {manifest['version']} written to {output / 'model'}")


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        if args.command == "train":
            from training.train import TrainConfig, train

            if not 0.0 < args.test_size < 1.0:
                raise TrainingError(f"--test-size must be between 0 and 1, got {args.test_size}")
            config = TrainConfig(
                data=args.data,
                output=args.output,
                text_column=args.text_column,
                label_column=args.label_column,
                test_size=args.test_size,
            )
            manifest = train(config)
            _print_summary(manifest, args.output)
    except TrainingError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0
