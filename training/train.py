"""``train``: data file in, evaluated model folder out."""

from __future__ import annotations

import logging
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sklearn.model_selection import train_test_split

from training.data import Dataset, load_dataset
from training.errors import DataError
from training.evaluation import evaluate
from training.export_lean import export_lean
from training.layer import write_model_dir
from training.pipeline import SEED, ModelOptions, build_pipeline

logger = logging.getLogger(__name__)


@dataclass
class TrainConfig:
    data: Path
    output: Path
    text_column: str = "text"
    label_column: str = "label"
    test_size: float = 0.2
    options: ModelOptions = ModelOptions()


def check_trainable(dataset: Dataset, test_size: float) -> None:
    counts = Counter(dataset.labels)
    if len(counts) < 2:
        only = next(iter(counts))
        raise DataError(f"{dataset.source}: only one class ({only!r}); need at least two to train")
    rare = sorted(c for c, n in counts.items() if n < 2)
    if rare:
        raise DataError(
            f"{dataset.source}: class(es) {', '.join(map(repr, rare[:5]))} have fewer than 2 examples; "
            "each class needs at least 2 for a stratified split"
        )
    n_test = int(round(len(dataset.texts) * test_size))
    if n_test < len(counts):
        raise DataError(
            f"{dataset.source}: {len(dataset.texts)} rows are too few for a {test_size:.0%} test split "
            f"over {len(counts)} classes"
        )


def train(config: TrainConfig) -> dict[str, Any]:
    """Train, evaluate on the held-out split, and write ``output/model/``. Returns the manifest."""
    started = time.perf_counter()
    dataset = load_dataset(config.data, config.text_column, config.label_column)
    check_trainable(dataset, config.test_size)
    x_train, x_test, y_train, y_test = train_test_split(
        dataset.texts,
        dataset.labels,
        test_size=config.test_size,
        random_state=SEED,
        stratify=dataset.labels,
    )
    min_count = min(Counter(y_train).values())
    pipeline = build_pipeline(config.options, min_count)
    pipeline.fit(x_train, y_train)
    metrics = evaluate(pipeline, x_test, y_test)
    extra = {
        "model": {"family": "linear-svm", "params": config.options.as_dict()},
        "metrics": metrics,
        "data": {
            "file": config.data.name,
            "text_column": config.text_column,
            "label_column": config.label_column,
            "rows_used": len(dataset.texts),
            "n_train": len(x_train),
            "n_test": len(x_test),
            "class_counts": dataset.class_counts,
            "cleaning": dataset.report.as_dict(),
            "split": {"test_size": config.test_size, "seed": SEED, "stratified": True},
        },
        "training_seconds": round(time.perf_counter() - started, 3),
    }
    # the lean artefact is built and parity-checked before the model folder is written
    with export_lean(pipeline, parity_texts=x_test) as lean:
        return write_model_dir(config.output, pipeline, extra, lean=lean)
