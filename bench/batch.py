"""`make bench-batch`: throughput and peak memory of the S3 batch function, by input size.

Each size is a CSV of real texts (the bundled dataset, plus ../shared/datasets when
present) with an id column. The file is uploaded to a moto server on 127.0.0.1
(a separate process, so S3's own memory is not counted), then a fresh Python
process imports the batch handler (``textclf_batch.main``) and invokes it with an S3 put
event, exactly as Lambda would, and reports rows/s and peak RSS (its own, and the
largest scoring worker's). The baseline is a single-process scikit-learn
``pipeline.predict`` on the same texts, measured in the same run.

    python bench/batch.py [--sizes 10MB,100MB] [--runs 3] [--workers 0] [--json FILE]

Throughput (rows/s, and its ratio to the baseline) is measured on the first size,
with baseline, in-process and parallel runs interleaved; memory on every size.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import random
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
DATASETS = [
    ROOT / "training" / "data" / "support_tickets.csv",
    ROOT.parent / "shared" / "datasets" / "banking77.csv",
    ROOT.parent / "shared" / "datasets" / "sms_spam.csv",
]
BUCKET = "textclf-bench-data"
MB = 1_000_000


def real_texts() -> list[str]:
    texts: list[str] = []
    for path in DATASETS:
        if path.is_file():
            with path.open(encoding="utf-8", newline="") as fh:
                texts += [row["text"] for row in csv.DictReader(fh) if row.get("text", "").strip()]
    return texts


def write_input(
    path: Path, *, size: int | None = None, rows: int | None = None, bad_every: int = 0, fmt: str = "csv"
) -> int:
    """A CSV (id,text,source), or JSON Lines with those fields when ``fmt`` is ``jsonl``, of real
    texts, up to ``size`` bytes or ``rows`` rows; returns rows.

    With ``bad_every``, every n-th row has an empty text (a row the function must reject).
    """
    texts = real_texts()
    rng = random.Random(42)
    written = count = 0
    with path.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh)
        if fmt == "csv":
            writer.writerow(["id", "text", "source"])
        while (size is None or written < size) and (rows is None or count < rows):
            count += 1
            text = "" if bad_every and count % bad_every == 0 else rng.choice(texts)
            if fmt == "csv":
                writer.writerow([count, text, "bench"])
            else:
                record = {"id": count, "text": text, "source": "bench"}
                fh.write(json.dumps(record, ensure_ascii=False) + "\n")
            written = fh.tell()
    return count


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class MotoServer:
    """``moto_server`` on 127.0.0.1 and a free port, stopped on exit."""

    def __init__(self) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc = subprocess.Popen(
            [str(BIN / "moto_server"), "-H", "127.0.0.1", "-p", str(self.port)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )

    def __enter__(self) -> MotoServer:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                urllib.request.urlopen(f"{self.url}/moto-api/", timeout=1).close()
                return self
            except OSError:
                time.sleep(0.1)
        self.__exit__()
        raise RuntimeError("moto_server did not start")

    def __exit__(self, *_: object) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


def s3_client(endpoint: str) -> Any:
    import boto3

    return boto3.client(
        "s3",
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id="bench",
        aws_secret_access_key="bench",
    )


def upload(endpoint: str, path: Path, key: str) -> None:
    client = s3_client(endpoint)
    try:
        client.create_bucket(Bucket=BUCKET)
        client.put_bucket_versioning(Bucket=BUCKET, VersioningConfiguration={"Status": "Enabled"})
    except client.exceptions.BucketAlreadyOwnedByYou:
        pass
    client.upload_file(str(path), BUCKET, key)


def run_child(
    endpoint: str,
    key: str,
    model_dir: Path,
    workers: int,
    part_mib: int,
    reader: str = "new",
    scores: str = "new",
) -> dict[str, Any]:
    """Invoke the handler in a fresh interpreter; its JSON report."""
    env = {
        **os.environ,
        "AWS_ENDPOINT_URL": endpoint,
        "AWS_ACCESS_KEY_ID": "bench",
        "AWS_SECRET_ACCESS_KEY": "bench",
        "AWS_DEFAULT_REGION": "us-east-1",
        "MODEL_DIR": str(model_dir),
        "BATCH_WORKERS": str(workers),
        "POWERTOOLS_LOG_LEVEL": "WARNING",
        "POWERTOOLS_SERVICE_NAME": "textclf-batch-bench",
    }
    command = [sys.executable, __file__, "--child", key, "--part-mib", str(part_mib), "--reader", reader]
    command += ["--scores", scores]
    result = subprocess.run(command, env=env, capture_output=True, text=True, timeout=3600)
    if result.returncode != 0:
        raise RuntimeError(f"bench child failed:\n{result.stderr[-3000:]}")
    report: dict[str, Any] = json.loads(result.stdout.strip().splitlines()[-1])
    return report


def use_old_reader() -> None:
    """Swap the CSV reader of before issue 12 (bench/old_batch_reader.py) into the batch function."""
    import textclf_batch.process as process
    from bench.old_batch_reader import OldCsvFormat, physical_lines

    class Old(OldCsvFormat):
        def records(self, lines: Any) -> Any:  # given the binary stream: the old path
            return super().records(physical_lines(lines, self._max_line_bytes))

    def make_format(name: str, text_column: str, max_chars: int, max_line: int, *_: Any) -> Any:
        assert name == "csv", "the old-reader benchmark is for CSV"
        return Old(text_column, max_chars, max_line)

    setattr(process, "make_format", make_format)  # noqa: B010  (replacing the module's import)
    setattr(process, "open_text", lambda stream: (stream, "UTF-8"))  # noqa: B010


def child(key: str, part_mib: int, reader: str = "new", scores: str = "new") -> None:
    """Inside the measured process: import the function, invoke it once, print a JSON report."""
    import importlib
    import resource

    sys.path[:0] = [str(ROOT / p) for p in ("layers/common/python", "functions/batch", ".")]
    import textclf_batch.s3io as s3io

    s3io.PART_SIZE = part_mib * 1024 * 1024
    if reader == "old":
        use_old_reader()
    if scores == "old":
        from bench.old_batch_scores import use_old_scores

        use_old_scores()
    app = importlib.import_module("textclf_batch.main")
    base_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

    head = app.s3.head_object(Bucket=BUCKET, Key=key)
    from scripts.lambda_context import LambdaContext, load_event

    event = load_event("s3-put.json")
    record = event["Records"][0]["s3"]
    record["bucket"]["name"] = BUCKET
    record["object"].update(
        key=key, size=head["ContentLength"], eTag=head["ETag"].strip('"'), versionId=head.get("VersionId")
    )

    class Context(LambdaContext):
        def get_remaining_time_in_millis(self) -> int:
            return 900_000

    before = resource.getrusage(resource.RUSAGE_SELF)
    start = time.perf_counter()
    result = app.handler(event, Context(function_name="BatchFunction", memory_limit_in_mb=10240))
    seconds = time.perf_counter() - start
    rows = result["results"][0]["rows"]
    after, workers = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime
    cpu += workers.ru_utime + workers.ru_stime
    print(
        json.dumps(
            {
                "rows": rows,
                "seconds": seconds,
                "rows_per_s": rows["read"] / seconds,
                "cpu_ms_per_1000_rows": 1e6 * cpu / rows["read"],
                "cpu_share": cpu / seconds,
                "bytes": head["ContentLength"],
                "rss_base_mb": base_rss,
                "rss_peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                "worker_peak_mb": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024,
                "workers": app.settings.batch_workers,
            }
        )
    )


def sklearn_baseline(model_dir: Path, path: Path, n: int = 20_000) -> float:
    """Rows/s of one single-process ``pipeline.predict`` over the first ``n`` texts of ``path``."""
    code = f"""
import csv, itertools, json, sys, time
from pathlib import Path
sys.path[:0] = [{str(ROOT / "layers" / "common" / "python")!r}, {str(ROOT)!r}]
from textclf.model import load_predictor
with open({str(path)!r}, encoding="utf-8", newline="") as fh:
    texts = [row["text"] for row in itertools.islice(csv.DictReader(fh), {n})]
pipeline = load_predictor(Path({str(model_dir)!r}), "joblib")._pipeline
start = time.perf_counter()
pipeline.predict(texts)
print(json.dumps(len(texts) / (time.perf_counter() - start)))
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return float(out.stdout.strip().splitlines()[-1])


@contextmanager
def staged_input(
    *,
    size: int | None = None,
    rows: int | None = None,
    bad_every: int = 0,
    endpoint: str | None = None,
    fmt: str = "csv",
) -> Iterator[tuple[str, str, Path]]:
    """A generated file uploaded to S3 (to a moto server started here unless ``endpoint`` is given)."""
    with tempfile.TemporaryDirectory(prefix="textclf-bench-") as tmp, ExitStack() as stack:
        path = Path(tmp) / f"input.{fmt}"
        write_input(path, size=size, rows=rows, bad_every=bad_every, fmt=fmt)
        key = f"incoming/bench-{path.stat().st_size}.{fmt}"
        if endpoint is None:
            endpoint = stack.enter_context(MotoServer()).url
        upload(endpoint, path, key)
        yield endpoint, key, path


def summarize(reports: list[dict[str, Any]]) -> dict[str, Any]:
    median = statistics.median
    return {
        "bytes": reports[0]["bytes"],
        "rows": reports[0]["rows"],
        "rows_per_s": median(r["rows_per_s"] for r in reports),
        "seconds": median(r["seconds"] for r in reports),
        "cpu_ms_per_1000_rows": median(r["cpu_ms_per_1000_rows"] for r in reports),
        "cpu_share": median(r["cpu_share"] for r in reports),
        "rss_base_mb": median(r["rss_base_mb"] for r in reports),
        "rss_peak_mb": median(r["rss_peak_mb"] for r in reports),
        "rss_growth_mb": median(r["rss_peak_mb"] - r["rss_base_mb"] for r in reports),
        "worker_peak_mb": median(r["worker_peak_mb"] for r in reports),
        "runs": len(reports),
    }


def default_model_dir() -> Path:
    return Path(os.environ.get("MODEL_DIR", ROOT / "layers" / "model" / "model"))


def measure(
    *,
    size: int | None = None,
    rows: int | None = None,
    bad_every: int = 0,
    runs: int = 1,
    workers: int = 0,
    part_mib: int = 8,
    model_dir: Path | None = None,
    endpoint: str | None = None,
    fmt: str = "csv",
) -> dict[str, Any]:
    """Median figures of ``runs`` invocations on one generated file (see the module docstring)."""
    model_dir = model_dir or default_model_dir()
    staged = staged_input(size=size, rows=rows, bad_every=bad_every, endpoint=endpoint, fmt=fmt)
    with staged as (url, key, _):
        return summarize([run_child(url, key, model_dir, workers, part_mib) for _ in range(runs)])


def parse_size(text: str) -> int:
    text = text.strip().upper()
    for unit, factor in (("GB", 1000 * MB), ("MB", MB), ("KB", 1000)):
        if text.endswith(unit):
            return int(float(text[: -len(unit)]) * factor)
    return int(text)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sizes", default="10MB,100MB", help="comma-separated input sizes (e.g. 10MB,1GB)")
    parser.add_argument("--runs", type=int, default=3, help="interleaved runs for the throughput figures")
    parser.add_argument("--workers", type=int, default=0, help="BATCH_WORKERS (0 = one per CPU)")
    parser.add_argument("--part-mib", type=int, default=8)
    parser.add_argument("--json", type=Path, help="also write the figures to this file")
    parser.add_argument("--format", choices=("csv", "jsonl"), default="csv", help="input format")
    parser.add_argument("--child", metavar="KEY", help=argparse.SUPPRESS)
    parser.add_argument("--reader", default="new", help=argparse.SUPPRESS)
    parser.add_argument("--scores", default="new", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child, args.part_mib, args.reader, args.scores)
        return

    model_dir = default_model_dir()
    cpus = len(os.sched_getaffinity(0))
    sizes = args.sizes.split(",")
    csv_input = args.format == "csv"
    print(f"batch bench: {cpus} CPUs, model {model_dir}, {args.format} input")
    print(f"\nthroughput on {sizes[0]} (medians of {args.runs} interleaved runs, same texts):")
    baselines: list[float] = []
    # (reader, scores) -> (in-process runs, parallel runs); the old reader reads CSV only
    variants = [("new", "new"), ("new", "old")] + ([("old", "new")] if csv_input else [])
    runs: dict[tuple[str, str], tuple[list[dict[str, Any]], list[dict[str, Any]]]] = {
        v: ([], []) for v in variants
    }
    with staged_input(size=parse_size(sizes[0]), fmt=args.format) as (url, key, path):
        for _ in range(args.runs):
            if csv_input:
                baselines.append(sklearn_baseline(model_dir, path))
            for reader, scores in variants:
                for workers, into in ((1, runs[reader, scores][0]), (args.workers, runs[reader, scores][1])):
                    into.append(run_child(url, key, model_dir, workers, args.part_mib, reader, scores))
    baseline = statistics.median(baselines) if baselines else float("nan")
    inline, parallel = (summarize(r) for r in runs["new", "new"])
    print(f"  {'scikit-learn pipeline.predict, 1 process (baseline)':<52}{baseline:>9,.0f} rows/s")
    for name, fig in (
        ("batch function, in-process (BATCH_WORKERS=1)", inline),
        (f"batch function, {cpus} scoring workers", parallel),
    ):
        ratio = fig["rows_per_s"] / baseline
        print(
            f"  {name:<52}{fig['rows_per_s']:>9,.0f} rows/s  {ratio:.2f} x baseline   "
            f"CPU {fig['cpu_ms_per_1000_rows']:.0f} ms / 1000 rows, {fig['cpu_share']:.2f} CPUs busy"
        )

    comparisons: dict[str, Any] = {}
    for variant, title in (
        (("new", "old"), "scores as one matrix vs per-row dicts and lists (bench/old_batch_scores.py)"),
        (("old", "new"), "current reader vs the reader before issue 12 (bench/old_batch_reader.py)"),
    ):
        if variant not in runs:
            continue
        old_inline, old_parallel = (summarize(r) for r in runs[variant])
        print(f"\nS3 path, {title}, same run:")
        ratios = {}
        for name, new, old in (
            ("in-process", inline, old_inline),
            (f"{cpus} scoring workers", parallel, old_parallel),
        ):
            ratios[name] = {
                "rows_per_s": new["rows_per_s"] / old["rows_per_s"],
                "rss_peak": new["rss_peak_mb"] / old["rss_peak_mb"],
                "worker_peak": new["worker_peak_mb"] / old["worker_peak_mb"] if old["worker_peak_mb"] else 0,
            }
            print(
                f"  {name:<24} current {new['rows_per_s']:>9,.0f} rows/s   "
                f"before {old['rows_per_s']:>9,.0f} rows/s"
                f"   ratio {ratios[name]['rows_per_s']:.3f}  (CPU {new['cpu_ms_per_1000_rows']:.1f} vs "
                f"{old['cpu_ms_per_1000_rows']:.1f} ms / 1000 rows; peak RSS {new['rss_peak_mb']:.0f} vs "
                f"{old['rss_peak_mb']:.0f} MB, worker {new['worker_peak_mb']:.0f} vs "
                f"{old['worker_peak_mb']:.0f} MB)"
            )
        key_name = "old_scores" if variant == ("new", "old") else "old_reader"
        comparisons[key_name] = {"inline": old_inline, "parallel": old_parallel, "ratios": ratios}

    print("\nby input size (one scoring worker per CPU):")
    print(
        f"{'input':>8} {'rows':>11} {'rows/s':>9} {'seconds':>8} {'peak RSS MB':>11} "
        f"{'RSS growth MB':>13} {'worker peak MB':>14}"
    )
    results = {sizes[0]: parallel}
    for size_text in sizes[1:]:
        results[size_text] = measure(
            size=parse_size(size_text), workers=args.workers, part_mib=args.part_mib, fmt=args.format
        )
    for size_text, fig in results.items():
        print(
            f"{size_text:>8} {fig['rows']['read']:>11,} {fig['rows_per_s']:>9,.0f} {fig['seconds']:>8.1f} "
            f"{fig['rss_peak_mb']:>11.0f} {fig['rss_growth_mb']:>13.0f} {fig['worker_peak_mb']:>14.0f}"
        )
    if args.json:
        out = {
            "cpus": cpus,
            "baseline_rows_per_s": baseline,
            "format": args.format,
            "inline": inline,
            **comparisons,
            "by_size": results,
        }
        args.json.write_text(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
