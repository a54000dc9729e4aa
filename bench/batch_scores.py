"""CPU time of the batch function's scores path, current vs previous, without S3 or load noise.

For one chunk of real texts: score it, send the scores through a worker pipe (pickle and
unpickle, as ``multiprocessing`` does), write the CSV and the JSON Lines rows; the current
path (one score matrix, ``textclf_batch``) against the previous one (``bench/old_batch_scores.py``:
a dict per row, then lists of lists), interleaved, medians of process CPU time. Checks first
that both write the same bytes.

    python bench/batch_scores.py [MODEL_DIR ...]   (default: layers/model/model)
"""

from __future__ import annotations

import pickle
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT / p) for p in ("layers/common/python", "functions/batch", ".")]

from bench.batch import real_texts  # noqa: E402
from bench.old_batch_scores import old_csv_encode, old_jsonl_encode, old_score_chunk  # noqa: E402
from textclf.model import load_predictor  # noqa: E402
from textclf_batch.formats import CsvFormat, JsonLinesFormat, Row  # noqa: E402
from textclf_batch.scoring import score_chunk  # noqa: E402

CHUNK = 2000  # rows, the BATCH_CHUNK_ROWS default
REPEATS = 7


def through_pipe(value: Any) -> Any:
    return pickle.loads(pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL))


def cpu_ms(action: Callable[[], object]) -> float:
    start = time.process_time()
    action()
    return (time.process_time() - start) * 1000


def compare(
    predictor: Any, texts: list[str], fmt: Any, rows: list[Row], old_encode: Any
) -> tuple[float, float]:
    """Median CPU ms of the current and the previous path on one chunk (same bytes checked)."""
    classes = predictor.classes

    def new() -> bytes:
        return bytes(fmt.encode(rows, through_pipe(score_chunk(predictor, texts)), classes))

    def old() -> bytes:
        return bytes(old_encode(fmt, rows, through_pipe(old_score_chunk(predictor, texts)), classes))

    assert new() == old(), "the two paths write different bytes"
    now, before = [], []
    for _ in range(REPEATS):
        now.append(cpu_ms(new))
        before.append(cpu_ms(old))
    return statistics.median(now), statistics.median(before)


def main() -> None:
    models = [Path(p) for p in sys.argv[1:]] or [ROOT / "layers" / "model" / "model"]
    pool = real_texts()
    texts = [pool[i % len(pool)] for i in range(CHUNK)]
    for model_dir in models:
        predictor = load_predictor(model_dir)
        cases = {
            "csv": (
                CsvFormat("text", 100_000, 1_000_000),
                [Row(i, i, t, [str(i), t]) for i, t in enumerate(texts)],
            ),
            "jsonl": (
                JsonLinesFormat("text", 100_000, 1_000_000),
                [Row(i, i, t, {"id": i, "text": t}) for i, t in enumerate(texts)],
            ),
        }
        encoders = {"csv": old_csv_encode, "jsonl": old_jsonl_encode}
        new_size = len(pickle.dumps(score_chunk(predictor, texts), protocol=pickle.HIGHEST_PROTOCOL))
        old_size = len(pickle.dumps(old_score_chunk(predictor, texts), protocol=pickle.HIGHEST_PROTOCOL))
        print(f"{model_dir} ({len(predictor.classes)} classes), {len(texts)} rows a chunk:")
        print(f"  scores through a worker pipe: {new_size:,} bytes now, {old_size:,} before")
        for name, (fmt, rows) in cases.items():
            now, before = compare(predictor, texts, fmt, rows, encoders[name])
            print(
                f"  {name:<6} score, pipe, write: {now:7.1f} ms CPU now, {before:7.1f} ms before  "
                f"(ratio {now / before:.3f})"
            )


if __name__ == "__main__":
    main()
