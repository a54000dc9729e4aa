"""Reading CloudWatch Embedded Metric Format (EMF) lines out of captured output."""

from __future__ import annotations

import json
from typing import Any

# the only dimensions the project documents (textclf/metrics.py, textclf_api/metrics.py); all low-cardinality
DIMENSIONS = {"service", "label", "problem", "reason"}


def emf_documents(output: str) -> list[dict[str, Any]]:
    """Every EMF document in ``output``, each checked against the EMF specification's rules."""
    docs = []
    for line in output.splitlines():
        if '"_aws"' not in line:
            continue
        doc = json.loads(line)
        [directive] = doc["_aws"]["CloudWatchMetrics"]
        assert directive["Namespace"] == "TextClf"
        assert isinstance(doc["_aws"]["Timestamp"], int)
        for dimension_set in directive["Dimensions"]:
            assert dimension_set[0] == "service" and set(dimension_set) <= DIMENSIONS, dimension_set
            for name in dimension_set:
                assert isinstance(doc[name], str) and doc[name], name
        for metric in directive["Metrics"]:
            value = doc[metric["Name"]]  # a number, or a list of numbers (Powertools writes lists)
            assert all(isinstance(v, int | float) for v in (value if isinstance(value, list) else [value]))
            assert metric["Unit"] in {"Count", "Milliseconds", "Seconds"}
        docs.append(doc)
    return docs


def metrics_of(doc: dict[str, Any]) -> dict[str, float]:
    """Metric name -> value (the sum, when the document holds a list of values)."""
    values = {m["Name"]: doc[m["Name"]] for m in doc["_aws"]["CloudWatchMetrics"][0]["Metrics"]}
    return {name: sum(v) if isinstance(v, list) else v for name, v in values.items()}


def dimension_sets(doc: dict[str, Any]) -> list[list[str]]:
    sets: list[list[str]] = doc["_aws"]["CloudWatchMetrics"][0]["Dimensions"]
    return sets
