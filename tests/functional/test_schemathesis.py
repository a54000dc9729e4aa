"""Property-based contract test: schemathesis generates requests from the app's own OpenAPI
document (valid ones and ones that break the schema) and runs every standard check on the
answers, in-process against the ASGI app. The document must state every rule the server
enforces, and the server must answer as the document says."""

from __future__ import annotations

from collections import Counter
from types import ModuleType

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode
from schemathesis.checks import CHECKS, load_all_checks

MIN_REQUESTS = 500
# Examples per operation and mode: routes without inputs have one distinct request, so the
# body-taking routes carry the total past MIN_REQUESTS.
EXAMPLES = 140


def test_schemathesis_finds_nothing(api_module: ModuleType) -> None:
    schema = schemathesis.openapi.from_asgi("/openapi.json", api_module.app)
    load_all_checks()
    # every built-in check, not only the ones on by default (positive_data_acceptance is
    # what catches a rule the server enforces but the document does not state)
    checks = CHECKS.get_all()
    assert len(checks) >= 10
    sent: Counter[str] = Counter()
    operations = [result.ok() for result in schema.get_all_operations()]
    labels = {op.label for op in operations}
    assert labels >= {"POST /predict", "POST /predict/batch", "GET /health", "HEAD /health", "GET /model"}

    for operation in operations:
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            if mode is GenerationMode.NEGATIVE and not list(operation.body) and not list(operation.query):
                continue  # nothing to break in a request without inputs

            @settings(
                max_examples=EXAMPLES,
                deadline=None,
                database=None,
                derandomize=True,  # the same requests on every run: a failure reproduces
                suppress_health_check=list(HealthCheck),
            )
            @given(case=operation.as_strategy(generation_mode=mode))
            def run(case: schemathesis.Case) -> None:
                case.call_and_validate(checks=checks)
                sent[case.operation.label] += 1

            try:
                run()
            except Exception as exc:  # name the operation and mode in the failure
                pytest.fail(f"{operation.label} ({mode.value}): {exc}")

    assert sum(sent.values()) >= MIN_REQUESTS, sent
