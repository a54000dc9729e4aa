"""What serving /docs and /redoc from the deployment costs: size and cold start, same run.

    python bench/docs_cost.py [--baseline REF] [--runs N] [--json FILE]

Size: the DepsLayer gains the ``fastapi-standalone-docs`` package (FastAPI, its only
dependency, is already there); it is installed for the Lambda platform into a scratch
folder and trimmed and byte-compiled by ``layers/deps/trim.py``, exactly as ``sam build``
does, then measured unzipped and zipped (as Lambda stores a layer).

Cold start: ``bench/child.py cold`` (fresh interpreter -> first API Gateway v2 /predict)
of the API function as it is now and as it was at ``--baseline`` (a git ref whose
``layers/common/python`` and ``functions/api`` serve the CDN pages), taking turns, median
of ``--runs``. Also the first ``GET /docs`` and first asset request in a fresh process.
"""

from __future__ import annotations

import argparse
import compileall
import io
import json
import os
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PY = sys.executable
EVENT = ROOT / "tests" / "events" / "apigw-v2-predict.json"
PACKAGE = "fastapi-standalone-docs"
PLATFORM = [
    "--implementation", "cp", "--python-version", "3.13", "--only-binary=:all:",
    "--platform", "manylinux_2_17_x86_64",
]  # fmt: skip
FIRST_DOCS = """
import json, sys, time
sys.path.insert(0, sys.argv[1])
from scripts.lambda_context import LambdaContext, load_event
import importlib, importlib.util, pathlib
app = pathlib.Path(sys.argv[2])
if (app.parent / "__init__.py").is_file():  # the function's package (functions/api/textclf_api/main.py)
    sys.path.insert(0, str(app.parent.parent))
    module = importlib.import_module(app.parent.name + "." + app.stem)
else:  # a top-level app.py, as the API function had before it became a package
    spec = importlib.util.spec_from_file_location("api_app", app)
    module = importlib.util.module_from_spec(spec); spec.loader.exec_module(module)
out = {}
for name, path in (("docs", "/docs"), ("asset", "/docs/assets/swagger/swagger-ui-bundle.js")):
    event = load_event("apigw-v2-docs-stage.json")
    event["requestContext"]["stage"] = "$default"
    event["rawPath"] = event["requestContext"]["http"]["path"] = path
    t = time.perf_counter(); r = module.handler(event, LambdaContext()); out[name] = time.perf_counter() - t
    assert r["statusCode"] == 200, r
print(json.dumps(out))
"""


def pinned_version() -> str:
    for line in (ROOT / "layers" / "deps" / "requirements.txt").read_text().splitlines():
        if line.lower().replace("_", "-").startswith(PACKAGE + "=="):
            return line.split("==", 1)[1].strip()
    raise SystemExit(f"{PACKAGE} is not pinned in layers/deps/requirements.txt")


def tree_size(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def zipped_size(path: Path) -> int:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as zf:
        for p in sorted(path.rglob("*")):
            if p.is_file():
                zf.write(p, p.relative_to(path))
    return len(buffer.getvalue())


def size_added(tmp: Path) -> dict[str, float]:
    target = tmp / "python"
    subprocess.run(
        [PY, "-m", "pip", "install", "--quiet", "--no-deps", "--no-compile", "--target", str(target),
         *PLATFORM, f"{PACKAGE}=={pinned_version()}"],
        check=True,
    )  # fmt: skip
    subprocess.run([PY, str(ROOT / "layers" / "deps" / "trim.py"), str(target)], check=True)
    static = next(target.glob("fastapi_standalone_docs/static"))
    return {
        "unzipped_mb": tree_size(target) / 1e6,
        "zipped_mb": zipped_size(target) / 1e6,
        "assets_mb": tree_size(static) / 1e6,
    }


def export(ref: str, dest: Path) -> None:
    """``layers/common/python`` and ``functions/api`` as they are at git ``ref``."""
    archive = subprocess.run(
        ["git", "archive", ref, "layers/common/python", "functions/api"],
        cwd=ROOT,
        check=True,
        capture_output=True,
    ).stdout
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        tar.extractall(dest, filter="data")
    compileall.compile_dir(dest, quiet=1)


def api_main(root: Path) -> Path:
    """The API function's handler module in the tree ``root``: its package's ``main.py``, or the
    top-level ``app.py`` of a tree from before the function had a package."""
    main = root / "functions/api/textclf_api/main.py"
    return main if main.is_file() else root / "functions/api/app.py"


def cold(app: Path, common: Path, env: dict[str, str]) -> float:
    run_env = {**env, "PYTHONPATH": f"{common}{os.pathsep}{ROOT}"}
    out = subprocess.run(
        [PY, str(ROOT / "bench" / "child.py"), "cold", str(time.time()), str(app), str(EVENT)],
        capture_output=True,
        text=True,
        env=run_env,
        timeout=300,
        check=True,
    )
    # the last line that is not an EMF record (the API writes the metrics it holds at exit)
    lines = [line for line in out.stdout.splitlines() if line.startswith("{") and '"_aws"' not in line]
    return float(json.loads(lines[-1])["total_s"])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--baseline", default="main", help="git ref of the CDN-docs baseline")
    parser.add_argument("--runs", type=int, default=9)
    parser.add_argument("--model-dir", type=Path, default=ROOT / "layers" / "model" / "model")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    if not (args.model_dir / "manifest.json").is_file():
        raise SystemExit(f"error: no model in {args.model_dir} (make train, or --model-dir)")
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    env.update({"MODEL_DIR": str(args.model_dir), "POWERTOOLS_LOG_LEVEL": "WARNING"})
    env["POWERTOOLS_SERVICE_NAME"] = "bench"
    with tempfile.TemporaryDirectory(prefix="docs-cost-") as tmp_name:
        tmp = Path(tmp_name)
        print(f"size: installing {PACKAGE}=={pinned_version()} for the Lambda platform ...", flush=True)
        size = size_added(tmp / "size")
        print(f"baseline: {args.baseline}; cold starts, {args.runs} runs each, taking turns ...", flush=True)
        export(args.baseline, tmp / "base")
        compileall.compile_dir(ROOT / "layers" / "common" / "python", quiet=1)
        compileall.compile_dir(ROOT / "functions" / "api", quiet=1)
        variants = {
            "now": (api_main(ROOT), ROOT / "layers/common/python"),
            "baseline": (api_main(tmp / "base"), tmp / "base/layers/common/python"),
        }
        for app, common in variants.values():  # warm the OS file cache once
            cold(app, common, env)
        samples: dict[str, list[float]] = {name: [] for name in variants}
        for _ in range(args.runs):
            for name, (app, common) in variants.items():
                samples[name].append(cold(app, common, env))
        medians = {name: statistics.median(values) for name, values in samples.items()}
        first = subprocess.run(
            [PY, "-c", FIRST_DOCS, str(ROOT), str(variants["now"][0])],
            capture_output=True,
            text=True,
            env={**env, "PYTHONPATH": str(variants["now"][1])},
            check=True,
        )
        first_docs = json.loads([ln for ln in first.stdout.splitlines() if '"_aws"' not in ln][-1])
    now, base = medians["now"], medians["baseline"]
    result = {"size": size, "cold_start_s": medians, "samples_s": samples, "first_docs_s": first_docs}
    print(
        f"DepsLayer grows by {size['unzipped_mb']:.2f} MB unzipped ({size['assets_mb']:.2f} MB of it "
        f"JS/CSS/licences), {size['zipped_mb']:.2f} MB zipped\n"
        f"cold start to first /predict: {now * 1000:.0f} ms now vs {base * 1000:.0f} ms at "
        f"{args.baseline} ({(now - base) * 1000:+.0f} ms, ratio {now / base:.3f})\n"
        f"first GET /docs {first_docs['docs'] * 1000:.1f} ms, first swagger-ui-bundle.js "
        f"{first_docs['asset'] * 1000:.1f} ms (in a process that has served nothing else)"
    )
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(result, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
