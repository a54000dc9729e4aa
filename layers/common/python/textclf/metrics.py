"""CloudWatch metrics as Embedded Metric Format (EMF) lines on stdout, through Powertools.

No API call: Lambda sends stdout to CloudWatch Logs, which extracts the metrics. One
namespace (``POWERTOOLS_METRICS_NAMESPACE``, default ``TextClf``); every metric has the
``service`` dimension (``POWERTOOLS_SERVICE_NAME``: textclf-api / textclf-batch), and some
a second, low-cardinality one. Never a text, an S3 key or a request id as a dimension.

Prediction API (one line per request that predicted or failed; none for /health, /docs):

=====================  ============  ============================================
metric                 unit          dimensions
=====================  ============  ============================================
Predictions            Count         service; service+label (predicted class)
PredictionLatency      Milliseconds  service (+ label for one-text requests)
Problems               Count         service; service+problem (4xx problem type)
Failures               Count         service (5xx answers)
=====================  ============  ============================================

Batch scoring (one line per file, plus one per rejection reason):

=====================  ============  ============================================
RowsRead               Count         service
RowsScored             Count         service
RowsRejected           Count         service; service+reason (the rows' reason)
FileDuration           Seconds       service
FilesScored            Count         service (status ok)
FilesFailed            Count         service (unreadable file or aborted run)
=====================  ============  ============================================

``POWERTOOLS_METRICS_DISABLED=true`` turns every line off.
"""

from __future__ import annotations

import json
import os
import sys
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.metrics.functions import is_metrics_disabled
from aws_lambda_powertools.metrics.provider.cloudwatch_emf.cloudwatch import AmazonCloudWatchEMFProvider

DEFAULT_NAMESPACE = "TextClf"

Values = Mapping[str, tuple[float, MetricUnit]]


def emit(values: Values, extra_dimension: tuple[str, str] | None = None) -> None:
    """Write one EMF line with ``values`` (name -> (value, unit)).

    The metrics are published per ``service`` and, when ``extra_dimension`` is
    ``(name, value)``, also per ``service`` + that dimension (an EMF document may carry
    several dimension sets).
    """
    if not values or is_metrics_disabled():
        return
    provider = AmazonCloudWatchEMFProvider(
        namespace=os.environ.get("POWERTOOLS_METRICS_NAMESPACE") or DEFAULT_NAMESPACE
    )
    for name, (value, unit) in values.items():
        provider.add_metric(name=name, unit=unit, value=value)
    document: dict[str, Any] = dict(provider.serialize_metric_set())  # adds the service dimension
    if extra_dimension:
        dim_name, dim_value = extra_dimension
        for directive in document["_aws"]["CloudWatchMetrics"]:
            directive["Dimensions"].append([*directive["Dimensions"][0], dim_name])
        document[dim_name] = dim_value
    sys.stdout.write(json.dumps(document, separators=(",", ":")) + "\n")


@dataclass
class RequestMetrics:
    """What one API request did, for its metrics line (filled by the routes)."""

    labels: Counter[str] | None = None
    latency_ms: float | None = None

    def predicted(self, labels: Iterable[str], latency_ms: float) -> None:
        self.labels = Counter(labels)
        self.latency_ms = latency_ms

    def emit(self, status: int, problem: str | None) -> None:
        """The request's metric lines: predictions, a problem (4xx) or a failure (5xx)."""
        if status >= 500:
            emit({"Failures": (1, MetricUnit.Count)})
        elif status >= 400:
            emit({"Problems": (1, MetricUnit.Count)}, ("problem", problem or f"http-{status}"))
        elif self.labels and self.latency_ms is not None:
            latency = {"PredictionLatency": (self.latency_ms, MetricUnit.Milliseconds)}
            if len(self.labels) == 1:
                ((label, count),) = self.labels.items()
                emit({"Predictions": (count, MetricUnit.Count), **latency}, ("label", label))
                return
            emit(latency)
            for label, count in sorted(self.labels.items()):
                emit({"Predictions": (count, MetricUnit.Count)}, ("label", label))


def emit_batch_file(summary: Mapping[str, Any] | None) -> None:
    """The metric lines of one scored file, from its summary (``None``: the run aborted)."""
    if summary is None:
        emit({"FilesFailed": (1, MetricUnit.Count)})
        return
    if summary.get("status") == "skipped":
        return
    rows = summary.get("rows") or {}
    failed = summary.get("status") != "ok"
    emit(
        {
            "RowsRead": (rows.get("read", 0), MetricUnit.Count),
            "RowsScored": (rows.get("scored", 0), MetricUnit.Count),
            "RowsRejected": (rows.get("rejected", 0), MetricUnit.Count),
            "FileDuration": (summary.get("duration_seconds", 0.0), MetricUnit.Seconds),
            ("FilesFailed" if failed else "FilesScored"): (1, MetricUnit.Count),
        }
    )
    for reason, count in sorted((summary.get("rejected_by_reason") or {}).items()):
        emit({"RowsRejected": (count, MetricUnit.Count)}, ("reason", str(reason)))
