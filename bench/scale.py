"""``make bench-scale``: a file bigger than one function, through the fan-out's planner and range workers.

On this machine, with the project's own code and model (no S3: the file is read from local disk):

1. generates one CSV of real texts (``bench/batch.py``'s generator; default 1 GB) once, reused;
2. plans it as the plan step does (``textclf_fanout.plan.plan_object``, CSV: the full quote-state
   scan) into ranges of ``--range-mib``, and times that;
3. for each N in ``--workers`` (1, 2, 4: processes standing in for concurrent Lambda invocations on
   these 2 cores) scores every range, each range in one process as the range step does
   (``textclf_fanout.ranges`` + ``textclf_batch.scoring.score_records``, output bytes counted and
   dropped): rows/s, per-range time, peak RSS of each worker;
4. projects the wall time of 10 GB and 100 GB files at MaxConcurrency 10, 100, 1000: planning
   scan + ceil(ranges / concurrency) waves of one range each + the merge. Which figures are
   measured and which are assumed is printed with them (and in the JSON).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import resource
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from statistics import median
from typing import Any

sys.path[:0] = [
    str(Path(__file__).resolve().parent.parent / p) for p in ("layers/common/python", "functions/batch")
]

from batch import MB, default_model_dir, parse_size, write_input  # noqa: E402  (bench/batch.py)

from textclf.model import get_predictor  # noqa: E402
from textclf.settings import get_settings  # noqa: E402
from textclf_batch.formats import make_format  # noqa: E402
from textclf_batch.scoring import score_records  # noqa: E402
from textclf_batch.streams import chained, open_binary, open_text  # noqa: E402
from textclf_fanout.plan import plan_object  # noqa: E402
from textclf_fanout.ranges import prefix_for, range_records  # noqa: E402

# Assumed, not measured here (no AWS from this machine):
S3_MB_PER_S_PER_STREAM = 85.0  # one GET stream; AWS: "one concurrent request for each 85-90 MB/s"
S3_SOURCE = (
    "Amazon S3 User Guide, 'Performance design patterns for Amazon S3' (horizontal scaling and request "
    "parallelization: one concurrent request per 85-90 MB/s of desired throughput)"
)
COPY_SECONDS_PER_PART = 2.0  # UploadPartCopy of one range output (~5-20 MB) inside S3, 16 at a time
STEP_OVERHEAD_S = 1.0  # a state transition + Lambda invoke per wave (warm)


def read_file(path: Path) -> Any:
    fd = os.open(path, os.O_RDONLY)

    def read(start: int, end: int) -> bytes:
        return os.pread(fd, max(0, end - start), start)

    return read


_STATE: dict[str, Any] = {}


def _init(model_dir: str) -> None:
    os.environ["MODEL_DIR"] = model_dir
    os.environ["BATCH_WORKERS"] = "1"  # one process per range: N ranges on N processes
    _STATE["settings"] = get_settings()
    _STATE["predictor"] = get_predictor(_STATE["settings"])


def score_one(path: str, index: int, start: int, end: int, header_end: int) -> dict[str, Any]:
    """Score one range of ``path`` as the range step does; time, rows, peak RSS of this worker."""
    settings, predictor = _STATE["settings"], _STATE["predictor"]
    began = time.perf_counter()
    cpu0 = time.process_time()
    with open(path, "rb") as fh:
        header = fh.read(header_end) if index else b""
        fh.seek(start)
        prefix = prefix_for("csv", index, header)

        class Limited:
            left = end - start

            def read(self, n: int | None = -1) -> bytes:
                n = self.left if n is None or n < 0 else min(n, self.left)
                data = fh.read(n)
                self.left -= len(data)
                return data

        fmt = make_format("csv", settings.text_column, settings.max_text_chars, settings.max_line_bytes)
        text, _ = open_text(chained(prefix, Limited()))
        records = range_records(fmt, text, "csv", prefix)
        written = [0]

        def sink(data: bytes) -> None:
            written[0] += len(data)

        if index == 0:
            sink(fmt.header())
        counts = score_records(
            records,
            fmt,
            predictor,
            sink,
            sink,
            chunk_rows=settings.batch_chunk_rows,
            workers=settings.batch_workers,
        )
    return {
        "index": index,
        "bytes": end - start,
        "rows": counts.read,
        "seconds": time.perf_counter() - began,
        "cpu_seconds": time.process_time() - cpu0,
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "pid": os.getpid(),
        "output_bytes": written[0],
    }


def run(path: Path, ranges: list[Any], header_end: int, workers: int, model_dir: Path) -> dict[str, Any]:
    began = time.perf_counter()
    with ProcessPoolExecutor(workers, initializer=_init, initargs=(str(model_dir),)) as pool:
        jobs = [pool.submit(score_one, str(path), r.index, r.start, r.end, header_end) for r in ranges]
        results = [j.result() for j in jobs]
    wall = time.perf_counter() - began
    rows = sum(r["rows"] for r in results)
    peaks: dict[int, float] = {}
    for r in results:
        peaks[r["pid"]] = max(peaks.get(r["pid"], 0.0), r["peak_rss_mb"])
    return {
        "workers": workers,
        "rows": rows,
        "wall_seconds": round(wall, 1),
        "rows_per_s": round(rows / wall),
        "range_seconds_median": round(median(r["seconds"] for r in results), 1),
        "range_seconds_max": round(max(r["seconds"] for r in results), 1),
        "range_cpu_seconds_median": round(median(r["cpu_seconds"] for r in results), 1),
        "peak_rss_mb_per_worker": sorted(round(v) for v in peaks.values()),
        "ranges": len(results),
    }


def project(
    size_gb: float, range_mib: int, range_s: float, plan_s_per_gb: float, concurrency: int
) -> dict[str, Any]:
    size = size_gb * 1e9
    ranges = math.ceil(size / (range_mib * 1_048_576))
    waves = math.ceil(ranges / concurrency)
    read_s = range_mib * 1_048_576 / 1e6 / S3_MB_PER_S_PER_STREAM  # streamed while scoring
    per_range = max(range_s, read_s) + STEP_OVERHEAD_S
    plan_s = max(plan_s_per_gb * size_gb, size / 1e6 / S3_MB_PER_S_PER_STREAM)  # CPU scan vs one GET stream
    merge_s = math.ceil(ranges / 16) * COPY_SECONDS_PER_PART
    return {
        "size_gb": size_gb,
        "max_concurrency": concurrency,
        "ranges": ranges,
        "waves": waves,
        "plan_s": round(plan_s),
        "score_s": round(waves * per_range),
        "merge_s": round(merge_s),
        "total_s": round(plan_s + waves * per_range + merge_s),
        "planner_fits_15_min": plan_s < 870,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", default="1GB", help="generated file size (default 1GB)")
    parser.add_argument("--range-mib", type=int, default=128)
    parser.add_argument("--workers", default="1,2,4")
    parser.add_argument("--data-dir", type=Path, default=Path(os.environ.get("TMPDIR", "/tmp")))
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    size = parse_size(args.size)
    model_dir = default_model_dir()
    path = args.data_dir / f"textclf-bench-scale-{size}.csv"
    if not path.exists() or path.stat().st_size < size:
        print(f"generating {path} ({size / MB:.0f} MB of real texts) ...", flush=True)
        rows = write_input(path, size=size)
        print(f"  {rows:,} rows", flush=True)
    actual = path.stat().st_size

    read = read_file(path)

    def delimiter(stream: Any) -> str | None:
        fmt = make_format("csv", "text", 5000, 1_048_576)
        fmt.records(open_text(open_binary(stream, compressed=False))[0])
        return str(getattr(fmt, "delimiter", ","))

    began = time.perf_counter()
    cpu0 = time.process_time()
    plan = plan_object(read, actual, "csv", False, args.range_mib * 1_048_576, delimiter)
    plan_s, plan_cpu = time.perf_counter() - began, time.process_time() - cpu0
    print(
        f"plan (measured): {actual / MB:,.0f} MB -> {len(plan.ranges)} ranges of ~{args.range_mib} MiB in "
        f"{plan_s:.1f} s ({plan_cpu:.1f} s CPU; {actual / MB / plan_cpu:,.0f} MB/s of quote-state scan)",
        flush=True,
    )
    runs = []
    for n in [int(x) for x in args.workers.split(",")]:
        result = run(path, plan.ranges, plan.header_end, n, model_dir)
        runs.append(result)
        print(f"N={n} (measured): {json.dumps(result)}", flush=True)
    # one range, one invocation with a vCPU of its own: the CPU time of a range (wall time here is
    # stretched by whatever else runs on this shared machine), scaled to 128 MiB ranges
    baseline = runs[0]
    range_s = baseline["range_cpu_seconds_median"] * 128 / args.range_mib
    plan_s_per_gb = plan_cpu / (actual / 1e9)
    projections = [project(gb, 128, range_s, plan_s_per_gb, c) for gb in (10, 100) for c in (10, 100, 1000)]
    assumptions = {
        f"per-range seconds for 128 MiB (measured CPU time of a range here, N={baseline['workers']})": round(
            range_s, 1
        ),
        "planning CPU seconds per GB (measured here)": round(plan_s_per_gb, 2),
        "S3 MB/s per GET stream (assumed)": S3_MB_PER_S_PER_STREAM,
        "S3 source": S3_SOURCE,
        "UploadPartCopy seconds per part, 16 in flight (assumed)": COPY_SECONDS_PER_PART,
        "step overhead seconds per wave (assumed)": STEP_OVERHEAD_S,
    }
    print("projection (projected from the measured per-range time and planning scan; S3 assumed):")
    for p in projections:
        print("  " + json.dumps(p))
    print("assumptions: " + json.dumps(assumptions))
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(
            json.dumps(
                {
                    "file_bytes": actual,
                    "plan": {
                        "seconds": round(plan_s, 1),
                        "cpu_seconds": round(plan_cpu, 1),
                        "ranges": len(plan.ranges),
                    },
                    "runs": runs,
                    "projections": projections,
                    "assumptions": assumptions,
                    "load_average": os.getloadavg(),
                },
                indent=2,
            )
        )


if __name__ == "__main__":
    main()
