"""Accuracy benchmark: default training settings on the shared real datasets.

    .venv/bin/python scripts/bench_accuracy.py [--datasets DIR] [--json FILE]

- banking77: the official split (data rows 1-10,003 train, the last 3,080 test),
  trained with ``--test-file``; target accuracy >= 0.91.
- sms_spam: stratified 20% held-out split; targets accuracy >= 0.98, ROC-AUC >= 0.99.

Prints one table (dataset, accuracy, macro-F1, ROC-AUC, training time, target
check) and exits 1 if a target is missed. No per-dataset tuning: every run uses
``TrainConfig``'s defaults. The datasets are read from ../shared/datasets and
never copied into the project; the models go to a temporary folder.
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT / "layers" / "common" / "python"), str(ROOT)]

from training.train import TrainConfig, train  # noqa: E402

BANKING77_TRAIN_ROWS = 10_003
BANKING77_TEST_ROWS = 3_080


@dataclass(frozen=True)
class Target:
    accuracy: float
    roc_auc: float | None = None

    def check(self, metrics: dict[str, Any]) -> list[str]:
        missed = []
        if metrics["accuracy"] < self.accuracy:
            missed.append(f"accuracy {metrics['accuracy']:.4f} < {self.accuracy}")
        if self.roc_auc is not None and (metrics["roc_auc"] or 0.0) < self.roc_auc:
            missed.append(f"ROC-AUC {metrics['roc_auc']} < {self.roc_auc}")
        return missed


TARGETS = {"banking77": Target(accuracy=0.91), "sms_spam": Target(accuracy=0.98, roc_auc=0.99)}


def split_banking77(source: Path, folder: Path) -> tuple[Path, Path]:
    """The official train and test files, as two temporary CSVs."""
    with source.open(encoding="utf-8", newline="") as fh:
        reader = csv.reader(fh)
        header = next(reader)
        rows = list(reader)
    if len(rows) != BANKING77_TRAIN_ROWS + BANKING77_TEST_ROWS:
        raise SystemExit(
            f"{source}: expected {BANKING77_TRAIN_ROWS + BANKING77_TEST_ROWS} rows, got {len(rows)}"
        )
    paths = []
    for name, part in (("train", rows[:BANKING77_TRAIN_ROWS]), ("test", rows[BANKING77_TRAIN_ROWS:])):
        path = folder / f"banking77-{name}.csv"
        with path.open("w", encoding="utf-8", newline="") as fh:
            writer = csv.writer(fh)
            writer.writerow(header)
            writer.writerows(part)
        paths.append(path)
    return paths[0], paths[1]


def config_for(name: str, datasets: Path, folder: Path) -> TrainConfig:
    output = folder / f"{name}-layer"
    if name == "banking77":
        train_file, test_file = split_banking77(datasets / "banking77.csv", folder)
        return TrainConfig(data=train_file, output=output, test_file=test_file)
    return TrainConfig(data=datasets / f"{name}.csv", output=output)


def run(name: str, datasets: Path, progress: Callable[[str], None] | None = None) -> dict[str, Any]:
    """Train ``name`` with default settings; its metrics, timing and target check."""
    with tempfile.TemporaryDirectory(prefix=f"bench-{name}-") as tmp:
        config = config_for(name, Path(datasets), Path(tmp))
        config.progress = progress
        started = time.perf_counter()
        manifest = train(config)
        seconds = time.perf_counter() - started
    metrics = manifest["metrics"]
    return {
        "dataset": name,
        "accuracy": metrics["accuracy"],
        "macro_f1": metrics["macro_f1"],
        "roc_auc": metrics["roc_auc"],
        "train_seconds": round(seconds, 1),
        "n_train": manifest["data"]["n_train"],
        "n_test": manifest["data"]["n_test"],
        "params": manifest["model"]["params"],
        "cv_complete": manifest["model"]["cv"].get("complete"),
        "missed": TARGETS[name].check(metrics),
        "version": manifest["version"],
    }


def table(results: list[dict[str, Any]]) -> str:
    lines = [
        "| dataset | train / test rows | accuracy | macro-F1 | ROC-AUC | training time | target |",
        "| --- | --- | ---: | ---: | ---: | ---: | --- |",
    ]
    for r in results:
        auc = "n/a" if r["roc_auc"] is None else f"{r['roc_auc']:.4f}"
        verdict = "met" if not r["missed"] else "MISSED: " + "; ".join(r["missed"])
        lines.append(
            f"| {r['dataset']} | {r['n_train']} / {r['n_test']} | {r['accuracy']:.4f} | "
            f"{r['macro_f1']:.4f} | {auc} | {r['train_seconds']:.1f} s | {verdict} |"
        )
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--datasets", type=Path, default=ROOT.parent / "shared" / "datasets")
    parser.add_argument("--only", choices=sorted(TARGETS), action="append", help="run just these")
    parser.add_argument("--json", type=Path, help="also write the results here")
    args = parser.parse_args()
    missing = [n for n in TARGETS if not (args.datasets / f"{n}.csv").is_file()]
    if missing:
        print(
            f"error: {args.datasets} lacks {', '.join(missing)} (.csv): nothing to benchmark", file=sys.stderr
        )
        return 2
    results = []
    for name in args.only or sorted(TARGETS):
        print(f"[bench-accuracy] training {name} with default settings ...", file=sys.stderr, flush=True)
        results.append(run(name, args.datasets, lambda m: print(f"  {m}", file=sys.stderr, flush=True)))
    print(table(results))
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    return 1 if any(r["missed"] for r in results) else 0


if __name__ == "__main__":
    sys.exit(main())
