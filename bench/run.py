"""`make bench`: cold start, warm latency, batch throughput and deployed size, as one table.

Every figure is the median of several runs and is shown next to a baseline
measured in the same run on the same machine, as a ratio; absolute numbers on a
shared 2-core machine drift, ratios much less. Targets are those of issue 3.

    python bench/run.py [--runs N] [--quick] [--skip-build] [--json FILE]
"""

from __future__ import annotations

import argparse
import compileall
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "bench"
EVENT = ROOT / "tests" / "events" / "apigw-v2-predict.json"
BUNDLED = ROOT / "training" / "data" / "support_tickets.csv"
PY = sys.executable
# the API function's handler module (in its package, functions/api/textclf_api/)
API_MAIN = ROOT / "functions" / "api" / "textclf_api" / "main.py"


@dataclass
class Row:
    figure: str
    ours: float | None
    baseline: float | None
    unit: str
    baseline_name: str
    target: str = ""
    ok: bool | None = None
    note: str = ""

    @property
    def ratio(self) -> float | None:
        if self.ours is None or not self.baseline:
            return None
        return self.ours / self.baseline


@dataclass
class Report:
    rows: list[Row] = field(default_factory=list)
    info: dict[str, object] = field(default_factory=dict)

    def add(self, row: Row) -> None:
        self.rows.append(row)
        print(
            f"  {row.figure}: {fmt(row.ours, row.unit)} (baseline {fmt(row.baseline, row.unit)})", flush=True
        )


def fmt(value: float | None, unit: str) -> str:
    if value is None:
        return "-"
    if unit == "s":
        return f"{value * 1000:.0f} ms" if value >= 0.1 else f"{value * 1000:.2f} ms"
    if unit == "MB":
        return f"{value:.1f} MB"
    if unit == "rows/s":
        return f"{value:,.0f} rows/s"
    return f"{value:.3g} {unit}"


def child(*args: str, env: dict[str, str], flags: tuple[str, ...] = ()) -> dict[str, float]:
    out = subprocess.run(
        [PY, *flags, str(BENCH / "child.py"), *args], capture_output=True, text=True, env=env, timeout=300
    )
    if out.returncode != 0:
        raise RuntimeError(f"benchmark child failed: {out.stderr.strip()[-2000:]}")
    return result_line(out.stdout)


def result_line(stdout: str) -> dict[str, float]:
    """The measurement a child printed: its last JSON line that is not an EMF metrics record (the
    API writes the metrics it holds when the process exits, after the result)."""
    results = [line for line in stdout.splitlines() if line.startswith("{") and '"_aws"' not in line]
    if not results:
        raise RuntimeError(f"benchmark child printed no result: {stdout[-2000:]}")
    result: dict[str, float] = json.loads(results[-1])
    return result


def interleaved[V](
    variants: dict[str, V], runs: int, measure: Callable[[V], dict[str, float]]
) -> dict[str, list[dict[str, float]]]:
    """``runs`` measurements of each variant (``measure(variant)``), taking turns."""
    results: dict[str, list[dict[str, float]]] = {name: [] for name in variants}
    for _ in range(runs):
        for name, variant in variants.items():
            results[name].append(measure(variant))
    return results


def template_default(parameter: str) -> str:
    """A parameter's default in template.yaml: what a deployed stack runs with."""
    text = (ROOT / "template.yaml").read_text(encoding="utf-8")
    match = re.search(rf"^  {parameter}:\n(?:    .*\n)*?    Default: (\w+)$", text, re.MULTILINE)
    if not match:
        raise SystemExit(f"template.yaml: no {parameter} parameter default")
    return match.group(1)


def template_log_level() -> str:
    """The LogLevel parameter's default in template.yaml."""
    return template_default("LogLevel")


# Cold starts run what `sam build` made, laid out as on Lambda: the built function first on sys.path,
# then the layers' python/ folders (one /opt/python there), in an interpreter that reads no
# environment and no site-packages (-I -S), so nothing of the development venv is imported (its
# editable-install finder, packages the layers trim, such as pydantic.v1).
DEPLOYED = ("-I", "-S")


def deployed_paths(build_dir: Path, lean: bool) -> dict[str, str]:
    """Each cold-start variant's sys.path prefix: the built function and the layers it has."""
    deps = build_dir / "DepsLayer" / "python"
    sklearn = build_dir / "SklearnLayer" / "python"
    function, common = build_dir / "ApiFunction", build_dir / "CommonLayer" / "python"
    ours = [function, common, deps, *([] if lean else [sklearn])]
    return {
        "ours": os.pathsep.join(map(str, ours)),
        "naive": os.pathsep.join(map(str, [deps, sklearn])),
        "floor": str(deps),
    }


def api_benchmarks(
    report: Report, model_dir: Path, runs: int, calls: int, build_dir: Path, lean: bool
) -> None:
    # PYTHONDONTWRITEBYTECODE stops the interpreter from writing .pyc files whatever its
    # value ("0" included), so it is left out rather than set.
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("PYTHONDONTWRITEBYTECODE", "POWERTOOLS_METRICS_DISABLED")
    }
    # As deployed: the template's default log level, EMF metrics on (one line per request to
    # stdout, as in Lambda); "quiet" is the same app with logs at WARNING and metrics off.
    log_level = template_log_level()
    flush_requests = template_default("MetricsFlushRequests")
    env.update(
        {
            "MODEL_DIR": str(model_dir),
            "POWERTOOLS_LOG_LEVEL": log_level,
            "POWERTOOLS_SERVICE_NAME": "bench",
            "METRICS_FLUSH_REQUESTS": flush_requests,
        }
    )
    quiet_env = {**env, "POWERTOOLS_LOG_LEVEL": "WARNING", "POWERTOOLS_METRICS_DISABLED": "true"}
    report.info["observability"] = {
        "log_level": log_level,
        "metrics": f"on (EMF), written every {flush_requests} requests",
        "quiet": "WARNING, metrics off",
    }
    apps = {
        "ours": API_MAIN,
        "naive": BENCH / "apps" / "naive_app.py",
        "floor": BENCH / "apps" / "floor_app.py",
    }
    # Every variant starts from cached, up-to-date .pyc files, as Lambda does with the
    # precompiled layers: compile the project's own sources (site-packages were compiled
    # by pip), then run each variant once.
    for source in (ROOT / "layers" / "common" / "python", ROOT / "functions", BENCH / "apps"):
        compileall.compile_dir(source, quiet=1)
    paths = deployed_paths(build_dir, lean)
    # (what the child imports, its sys.path prefix): ours is the built function's module
    cold_variants = {
        name: ("textclf_api.main" if name == "ours" else str(app), paths[name]) for name, app in apps.items()
    }

    def cold_start(variant: tuple[str, str]) -> dict[str, float]:
        app, path = variant
        return child("cold", str(time.time()), app, str(EVENT), path, env=env, flags=DEPLOYED)

    for variant in cold_variants.values():
        cold_start(variant)
    # Runs take turns (ours, naive, floor, ours, ...), so a change in the machine's load
    # during the benchmark weighs on every variant alike rather than on one of them.
    cold_runs = interleaved(cold_variants, runs, cold_start)
    cold = {name: statistics.median(r["total_s"] for r in results) for name, results in cold_runs.items()}
    warm_variants = {name: (app, env) for name, app in apps.items()}
    warm_variants["quiet"] = (apps["ours"], quiet_env)
    # the same defaults, but every request writing its metrics line at once
    warm_variants["per_request"] = (apps["ours"], {**env, "METRICS_FLUSH_REQUESTS": "1"})
    warm_runs = interleaved(
        warm_variants,
        max(3, runs // 2),
        lambda variant: child("warm", str(variant[0]), str(EVENT), str(calls), env=variant[1]),
    )
    warm = {
        name: {k: statistics.median(r[k] for r in results) for k in ("p50_s", "p99_s", "mean_s")}
        for name, results in warm_runs.items()
    }
    # the same, each call sending the next text of the bundled data (varied lengths and words)
    varied_runs = interleaved(
        {name: apps[name] for name in ("ours", "floor")},
        max(3, runs // 2),
        lambda app: child("warm", str(app), str(EVENT), str(calls), str(BUNDLED), env=env),
    )
    varied = {name: statistics.median(r["p50_s"] for r in results) for name, results in varied_runs.items()}

    over_floor = cold["ours"] - cold["floor"]
    report.add(
        Row(
            "cold start, fresh process on the built function and layers -> first v2 /predict",
            cold["ours"],
            cold["naive"],
            "s",
            "naive",
            "<= 0.35 x naive",
            cold["ours"] <= 0.35 * cold["naive"],
        )
    )
    report.add(
        Row(
            "cold start above the framework floor",
            over_floor,
            cold["floor"],
            "s",
            "floor",
            "<= 0.35 s above floor",
            over_floor <= 0.35,
            # the floor imports FastAPI as it comes; ours defers FastAPI's OpenAPI models
            # (textclf_api.deferred), so "above the floor" can be below zero
            note=f"floor itself {cold['floor'] * 1000:.0f} ms, with FastAPI's models built at import",
        )
    )
    report.add(
        Row(
            "warm /predict p50 (in-process textclf_api.main.handler), template observability defaults",
            warm["ours"]["p50_s"],
            warm["floor"]["p50_s"],
            "s",
            "floor",
            "<= 1.5 x floor p50",
            warm["ours"]["p50_s"] <= 1.5 * warm["floor"]["p50_s"],
            note=f"log level {log_level}, EMF metrics on, written every {flush_requests} requests",
        )
    )
    report.add(
        Row(
            "warm /predict mean, template defaults (the requests that write metrics included)",
            warm["ours"]["mean_s"],
            warm["floor"]["mean_s"],
            "s",
            "floor",
            note="the floor's mean",
        )
    )
    report.add(
        Row(
            "warm /predict p50, metrics written by every request (METRICS_FLUSH_REQUESTS=1)",
            warm["per_request"]["p50_s"],
            warm["floor"]["p50_s"],
            "s",
            "floor",
        )
    )
    report.add(
        Row(
            "warm /predict p50, logs at WARNING and metrics off",
            warm["quiet"]["p50_s"],
            warm["floor"]["p50_s"],
            "s",
            "floor",
            "<= 1.3 x floor p50",
            warm["quiet"]["p50_s"] <= 1.3 * warm["floor"]["p50_s"],
        )
    )
    report.add(
        Row(
            "warm /predict p99",
            warm["ours"]["p99_s"],
            warm["naive"]["p99_s"],
            "s",
            "naive",
            "<= 3 ms",
            warm["ours"]["p99_s"] <= 0.003,
        )
    )
    report.add(
        Row(
            "warm /predict p99 vs the framework floor's p99",
            warm["ours"]["p99_s"],
            warm["floor"]["p99_s"],
            "s",
            "floor",
            note="on a shared machine p99 is mostly its load",
        )
    )
    report.add(
        Row(
            "warm /predict p50, a different text each call",
            varied["ours"],
            varied["floor"],
            "s",
            "floor",
            note="the bundled data's texts in turn, not one text",
        )
    )
    report.add(Row("warm /predict p50 vs naive", warm["ours"]["p50_s"], warm["naive"]["p50_s"], "s", "naive"))
    report.info["cold_start_s"] = cold
    report.info["warm_s"] = warm
    report.info["warm_varied_p50_s"] = varied


def dir_size_mb(path: Path) -> float:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file()) / 1e6


BUILD_DIR = ROOT / ".aws-sam" / "build"


def sam_build() -> None:
    """`sam build` of template.yaml into .aws-sam/build (what the cold starts, sizes and container
    init measure)."""
    print("sam build ...", flush=True)
    env = {**os.environ, "PATH": f"{Path(PY).parent}:{os.environ['PATH']}", "SAM_CLI_TELEMETRY": "0"}
    subprocess.run(
        [str(Path(PY).parent / "sam"), "build"],
        cwd=ROOT,
        env=env,
        check=True,
        capture_output=True,
        timeout=1200,
    )


def size_benchmarks(report: Report, build_dir: Path) -> None:
    model = dir_size_mb(ROOT / "layers" / "model")
    deps = dir_size_mb(build_dir / "DepsLayer")
    common = dir_size_mb(build_dir / "CommonLayer")
    sklearn = dir_size_mb(build_dir / "SklearnLayer") if (build_dir / "SklearnLayer").is_dir() else 0.0
    sizes = {
        name: dir_size_mb(build_dir / name)
        for name in ("ApiFunction", "BatchFunction")
        if (build_dir / name).is_dir()
    }
    naive = deps + sklearn + model  # the naive deployment ships scikit-learn with everything
    for name, code in sizes.items():
        lean_total = code + deps + common + model
        report.add(
            Row(
                f"{name} + layers, unzipped (lean)",
                lean_total,
                naive + code,
                "MB",
                "with scikit-learn layer",
                "<= 90 MB" if name == "ApiFunction" else "",
                lean_total <= 90 if name == "ApiFunction" else None,
            )
        )
    report.add(Row("scikit-learn fallback layer", sklearn, None, "MB", "-", "<= 150 MB", sklearn <= 150))
    report.info["sizes_mb"] = {
        "DepsLayer": deps,
        "CommonLayer": common,
        "SklearnLayer": sklearn,
        "ModelLayer": model,
        **sizes,
    }


def batch_benchmarks(report: Report, model_dir: Path, runs: int, sizes: list[str]) -> None:
    """The S3 scoring path (bench/batch.py): rows/s against scikit-learn, and peak RSS by size."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("bench_batch", BENCH / "batch.py")
    assert spec and spec.loader
    batch = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(batch)
    baselines, inline, parallel = [], [], []
    with batch.staged_input(size=batch.parse_size(sizes[0])) as (url, key, path):
        for _ in range(runs):  # interleaved, so machine load hits all three alike
            baselines.append(batch.sklearn_baseline(model_dir, path))
            inline.append(batch.run_child(url, key, model_dir, 1, 8))
            parallel.append(batch.run_child(url, key, model_dir, 0, 8))
    base = statistics.median(baselines)
    one, many = batch.summarize(inline), batch.summarize(parallel)
    report.add(
        Row(
            f"batch scoring, S3 path, {many['rows']['read']:,} rows ({sizes[0]}), all vCPUs",
            many["rows_per_s"],
            base,
            "rows/s",
            "sklearn predict",
            ">= 2 x sklearn",
            many["rows_per_s"] >= 2 * base,
            note=f"{os.cpu_count()} vCPUs",
        )
    )
    report.add(Row("batch scoring, one process", one["rows_per_s"], base, "rows/s", "sklearn predict"))
    by_size = {sizes[0]: many}
    for size in sizes[1:]:
        by_size[size] = batch.measure(size=batch.parse_size(size), model_dir=model_dir)
    peaks = {size: fig["rss_peak_mb"] for size, fig in by_size.items()}
    first, last = peaks[sizes[0]], peaks[sizes[-1]]
    report.add(
        Row(
            f"batch peak RSS, {sizes[-1]} input",
            last,
            first,
            "MB",
            f"{sizes[0]} input",
            "flat in file size (<= 1.25 x)",
            last <= 1.25 * first,
        )
    )
    report.info["batch"] = {"baseline_rows_per_s": base, "inline": one, "by_size": by_size}


IMAGE = "textclf/lambda-python:3.13"
CONTAINER_PROBE = """
import importlib, json, sys, time
t0 = time.perf_counter()
sys.path.insert(0, "/var/task")
app = importlib.import_module(sys.argv[1])
t1 = time.perf_counter()
class C:
    function_name = "bench"; function_version = "$LATEST"; memory_limit_in_mb = 1024
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:bench"; aws_request_id = "b"
    def get_remaining_time_in_millis(self): return 60000
r = app.handler(json.load(open("/event.json")), C())
t2 = time.perf_counter()
assert r["statusCode"] == 200, r
print(json.dumps({"import_s": t1 - t0, "init_s": t2 - t0}))
"""


def _docker_ok() -> str | None:
    try:
        subprocess.run(["docker", "image", "inspect", IMAGE], check=True, capture_output=True, timeout=60)
    except (OSError, subprocess.SubprocessError):
        return f"no Docker engine or no {IMAGE} image (run `make local-image`)"
    return None


def _opt_tree(tmp: Path, layers: list[Path]) -> Path:
    """Merge built layers into one /opt tree, as Lambda extracts them."""
    opt = tmp / "opt"
    for layer in layers:
        subprocess.run(["cp", "-a", f"{layer}/.", str(opt)], check=True) if opt.exists() else (
            subprocess.run(["cp", "-a", str(layer), str(opt)], check=True)
        )
    return opt


def container_init(report: Report, runs: int, lean: bool) -> None:
    """Init inside the Lambda image: import the handler and answer one v2 /predict.

    Layers are mounted read-only at /opt and the function's code at /var/task, exactly
    as built by `sam build`, so this shows whether precompiled bytecode is used (both are
    read-only on Lambda).
    """
    import tempfile

    reason = _docker_ok()
    build_dir = BUILD_DIR
    if reason is None and not (build_dir / "DepsLayer").is_dir():
        reason = "no .aws-sam/build"
    if reason:
        report.add(Row("init in the sam local container", None, None, "s", "naive", "<= 1.0 s", note=reason))
        return
    variants = {
        "ours": (
            [
                build_dir / "DepsLayer",
                *([] if lean else [build_dir / "SklearnLayer"]),
                build_dir / "CommonLayer",
                ROOT / "layers" / "model",
            ],
            API_MAIN,
        ),
        "naive": (
            [build_dir / "DepsLayer", build_dir / "SklearnLayer", ROOT / "layers" / "model"],
            BENCH / "apps" / "naive_app.py",
        ),
    }
    results: dict[str, float] = {}
    with tempfile.TemporaryDirectory(prefix="bench-opt-") as tmp:
        for name, (layers, app) in variants.items():
            root = Path(tmp) / name
            root.mkdir()
            opt = _opt_tree(root, layers)
            task = root / "task"
            task.mkdir()
            if (app.parent / "__init__.py").is_file():
                # a function's package: /var/task as `sam build` made it (with its bytecode)
                shutil.copytree(build_dir / "ApiFunction", task, dirs_exist_ok=True)
                module = f"{app.parent.name}.{app.stem}"
            else:
                (task / "app.py").write_text(app.read_text())
                module = "app"
            cmd = [
                "docker",
                "run",
                "--rm",
                "--network",
                "none",
                "--entrypoint",
                "python3",
                "-v",
                f"{opt}:/opt:ro",
                "-v",
                f"{task}:/var/task:ro",
                "-v",
                f"{EVENT}:/event.json:ro",
                "-e",
                "MODEL_DIR=/opt/model",
                "-e",
                "POWERTOOLS_LOG_LEVEL=WARNING",
                "-e",
                "PYTHONDONTWRITEBYTECODE=1",
                IMAGE,
                "-c",
                CONTAINER_PROBE,
                module,
            ]
            samples = []
            for _ in range(runs):
                out = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
                if out.returncode != 0:
                    raise RuntimeError(f"container init ({name}) failed: {out.stderr[-2000:]}")
                samples.append(result_line(out.stdout)["init_s"])
            results[name] = statistics.median(samples)
    report.add(
        Row(
            "API init in the Lambda container (read-only /opt and /var/task)",
            results["ours"],
            results["naive"],
            "s",
            "naive",
            "<= 1.0 s",
            results["ours"] <= 1.0,
        )
    )
    report.info["container_init_s"] = results


def print_table(report: Report) -> str:
    lines = [
        "| figure | ours | baseline | ratio | target | met |",
        "| --- | ---: | ---: | ---: | --- | :---: |",
    ]
    for r in report.rows:
        ratio = f"{r.ratio:.2f} x {r.baseline_name}" if r.ratio is not None else "-"
        met = {True: "yes", False: "NO", None: ""}[r.ok]
        target = r.target + (f" ({r.note})" if r.note else "")
        lines.append(
            f"| {r.figure} | {fmt(r.ours, r.unit)} | {fmt(r.baseline, r.unit)} | {ratio} | {target} | {met} |"
        )
    table = "\n".join(lines)
    print("\n" + table)
    return table


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7, help="runs per cold-start figure (median taken)")
    parser.add_argument("--calls", type=int, default=2000, help="calls per warm-latency run")
    parser.add_argument("--quick", action="store_true", help="fewer runs, for a smoke test")
    parser.add_argument("--skip-build", action="store_true", help="use the existing .aws-sam/build")
    parser.add_argument("--batch-sizes", default="10MB,100MB", help="input sizes for the batch figures")
    parser.add_argument("--skip-batch", action="store_true", help="leave out the S3 batch figures")
    parser.add_argument("--model-dir", type=Path, default=ROOT / "layers" / "model" / "model")
    parser.add_argument("--json", type=Path, help="also write the figures as JSON")
    args = parser.parse_args()
    runs, calls = (3, 300) if args.quick else (args.runs, args.calls)
    if not (args.model_dir / "manifest.json").is_file():
        print(f"error: no model in {args.model_dir}; run `make train` first", file=sys.stderr)
        return 2
    manifest = json.loads((args.model_dir / "manifest.json").read_text())
    report = Report(
        info={
            "model_version": manifest["version"],
            "backends": sorted(manifest["backends"]),
            "cpus": os.cpu_count(),
            "python": sys.version.split()[0],
        }
    )
    print(
        f"model {manifest['version']} (backends: {', '.join(sorted(manifest['backends']))}); "
        f"{runs} runs per figure",
        flush=True,
    )
    if not args.skip_build:
        sam_build()
    if not (BUILD_DIR / "ApiFunction").is_dir():
        print("error: no .aws-sam/build; run without --skip-build", file=sys.stderr)
        return 2
    lean = "lean" in manifest["backends"]
    print("API:", flush=True)
    api_benchmarks(report, args.model_dir, runs, calls, BUILD_DIR, lean)
    if not args.skip_batch:
        print("Batch:", flush=True)
        batch_benchmarks(report, args.model_dir, max(3, runs // 2), args.batch_sizes.split(","))
    print("Size:", flush=True)
    size_benchmarks(report, BUILD_DIR)
    print("sam local container:", flush=True)
    container_init(report, max(3, runs // 2), lean=lean)
    table = print_table(report)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(
            json.dumps(
                {"table": table, "rows": [r.__dict__ for r in report.rows], "info": report.info},
                indent=2,
                default=str,
            )
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
