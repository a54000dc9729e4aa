"""One benchmark measurement in a fresh interpreter; prints one JSON line.

child.py cold T0 APP EVENT [PATH]
                                wall time from T0 (parent's time.time() before spawning)
                                to the first response of APP's handler. PATH (os.pathsep-
                                separated folders) goes first on sys.path: the built function
                                and layers, as Lambda lays them out; APP may then be a module
                                name (textclf_api.main), imported from there
child.py warm APP EVENT N [CSV] p50/p99/mean of N in-process handler calls; with CSV, each
                                call sends the next row's ``text`` in turn (not one text)
"""

import copy
import csv
import importlib
import importlib.util
import json
import os
import sys
import time
from pathlib import Path
from types import ModuleType

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from scripts.lambda_context import LambdaContext  # noqa: E402  (the same fake context the tests use)


def _load(path: str) -> ModuleType:
    if not path.endswith(".py"):
        return importlib.import_module(path)  # a module on sys.path (the built function)
    file = Path(path)
    if (file.parent / "__init__.py").is_file():
        # a module of a function's package (functions/api/textclf_api/main.py): imported by its
        # name with the function's folder on the path, as Lambda imports it from /var/task
        sys.path.insert(0, str(file.parent.parent))
        return importlib.import_module(f"{file.parent.name}.{file.stem}")
    spec = importlib.util.spec_from_file_location("bench_app", path)
    assert spec is not None and spec.loader is not None, path
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def main() -> None:
    mode = sys.argv[1]
    if mode == "cold":
        t0, app_path, event_path = float(sys.argv[2]), sys.argv[3], sys.argv[4]
        if len(sys.argv) > 5:
            sys.path[:0] = sys.argv[5].split(os.pathsep)
        event = json.loads(open(event_path, encoding="utf-8").read())
        started = time.time()
        module = _load(app_path)
        imported = time.time()
        response = module.handler(event, LambdaContext())
        done = time.time()
        assert response["statusCode"] == 200, response
        print(
            json.dumps(
                {
                    "total_s": done - t0,
                    "interpreter_s": started - t0,
                    "import_s": imported - started,
                    "first_call_s": done - imported,
                }
            )
        )
    elif mode == "warm":
        app_path, event_path, n = sys.argv[2], sys.argv[3], int(sys.argv[4])
        event = json.loads(open(event_path, encoding="utf-8").read())
        events = [event]
        if len(sys.argv) > 5:
            with open(sys.argv[5], encoding="utf-8", newline="") as fh:
                texts = [row["text"] for row in csv.DictReader(fh)]
            events = [{**copy.deepcopy(event), "body": json.dumps({"text": text})} for text in texts]
        module = _load(app_path)
        ctx = LambdaContext()
        for i in range(max(200, len(events))):
            module.handler(events[i % len(events)], ctx)
        samples = []
        for i in range(n):
            request = events[i % len(events)]
            t = time.perf_counter()
            response = module.handler(request, ctx)
            samples.append(time.perf_counter() - t)
        assert response["statusCode"] == 200, response
        samples.sort()
        mean = sum(samples) / len(samples)
        p50, p99 = samples[len(samples) // 2], samples[int(len(samples) * 0.99)]
        print(json.dumps({"p50_s": p50, "p99_s": p99, "mean_s": mean}))
    else:
        raise SystemExit(f"unknown mode {mode}")


if __name__ == "__main__":
    main()
