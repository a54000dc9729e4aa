"""The API as Lambda starts it (a fresh interpreter importing textclf_api.main): FastAPI's OpenAPI
models are not built by the cold start or by a prediction, and /openapi.json, built from them on
first use, is the same document as that of an app whose models were built at import."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from types import ModuleType

from tests.helpers import ROOT, LambdaContext, load_event, response_json

FRESH = """
import json, sys
sys.path.insert(0, sys.argv[1])  # the function's folder, as /var/task
from scripts.lambda_context import LambdaContext, load_event
import textclf_api.main as main
from fastapi.openapi import models
after_import = models.OpenAPI.__pydantic_complete__
predict = main.handler(load_event("apigw-v2-predict.json"), LambdaContext())
after_predict = models.OpenAPI.__pydantic_complete__
event = load_event("apigw-v2-health.json", rawPath="/openapi.json")
spec = main.handler(event, LambdaContext())
print(json.dumps({"after_import": after_import, "after_predict": after_predict,
                  "predict": predict["statusCode"], "spec": json.loads(spec["body"])}))
"""


def test_a_cold_start_defers_fastapis_models_and_documents_the_same_api(
    api_module: ModuleType, model_dir: Path
) -> None:
    env = {**os.environ, "MODEL_DIR": str(model_dir), "PYTHONPATH": str(ROOT)}
    out = subprocess.run(
        [sys.executable, "-c", FRESH, str(ROOT / "functions" / "api")],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert out.returncode == 0, out.stderr[-2000:]
    fresh = json.loads([line for line in out.stdout.splitlines() if line.startswith('{"after_import"')][-1])
    assert fresh["after_import"] is False and fresh["after_predict"] is False
    assert fresh["predict"] == 200
    event = load_event("apigw-v2-health.json", rawPath="/openapi.json")
    built_at_import = response_json(api_module.handler(event, LambdaContext()))
    assert fresh["spec"] == built_at_import
