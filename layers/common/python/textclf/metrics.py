"""CloudWatch metrics as Embedded Metric Format (EMF) lines on stdout, through Powertools.

No API call: Lambda sends stdout to CloudWatch Logs, which extracts the metrics. One
namespace (``POWERTOOLS_METRICS_NAMESPACE``, default ``TextClf``); every metric has the
``service`` dimension (``POWERTOOLS_SERVICE_NAME``: textclf-api / textclf-batch), and some
a second, low-cardinality one. Never a text, an S3 key or a request id as a dimension.

The prediction API's metrics (Predictions, PredictionLatency, Problems, Failures) are
documented where they are emitted, in the API function's ``textclf_api.metrics``.

Batch scoring (one line per file, plus one per rejection reason):

=====================  ============  ============================================
RowsRead               Count         service
RowsScored             Count         service
RowsRejected           Count         service; service+reason (the rows' reason)
FileDuration           Seconds       service
FilesScored            Count         service (status ok)
FilesFailed            Count         service (status failed: unreadable or too slow)
=====================  ============  ============================================

``POWERTOOLS_METRICS_DISABLED=true`` turns every line off. The environment is read at import
(:func:`configure` reads it again).
"""

from __future__ import annotations

import json
import math
import os
import sys
import time
from collections.abc import Mapping, Sequence
from functools import cache
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.metrics.provider.cloudwatch_emf.cloudwatch import AmazonCloudWatchEMFProvider

DEFAULT_NAMESPACE = "TextClf"
_TRUE = {"1", "true", "yes", "on", "y", "t"}

# every metric the project emits, with its unit (the tables above)
UNITS: dict[str, MetricUnit] = {
    "Predictions": MetricUnit.Count,
    "PredictionLatency": MetricUnit.Milliseconds,
    "Problems": MetricUnit.Count,
    "Failures": MetricUnit.Count,
    "RowsRead": MetricUnit.Count,
    "RowsScored": MetricUnit.Count,
    "RowsRejected": MetricUnit.Count,
    "FileDuration": MetricUnit.Seconds,
    "FilesScored": MetricUnit.Count,
    "FilesFailed": MetricUnit.Count,
}


def emit(
    values: Mapping[str, float | Sequence[float]],
    extra_dimension: tuple[str, str] | None = None,
    timestamp_ms: int | None = None,
) -> None:
    """Write one EMF line with ``values`` (metric name -> value; units from :data:`UNITS`).

    A value may be a sequence of up to 100 numbers (EMF's limit per metric and record): each is
    a sample of its own, so CloudWatch's statistics (sum, sample count, percentiles) come out as
    if every number had been written on a line of its own. The metrics are published per
    ``service`` and, when ``extra_dimension`` is ``(name, value)``, also per ``service`` + that
    dimension (an EMF document may carry several dimension sets). ``timestamp_ms`` is the
    record's time (milliseconds since the epoch; now when None).

    Powertools builds and validates each document's shape (names, units, namespace,
    dimensions) once per process; a request then only fills in the timestamp and values.
    Building the document through Powertools on every request cost more than the
    prediction itself (docs/performance-log.md).
    """
    if not values or _config["disabled"]:
        return
    sys.stdout.write(record(values, extra_dimension, timestamp_ms))


def record(
    values: Mapping[str, float | Sequence[float]],
    extra_dimension: tuple[str, str] | None = None,
    timestamp_ms: int | None = None,
) -> str:
    """The EMF line :func:`emit` writes (newline included), for writing several in one call."""
    head = _head(tuple(values), extra_dimension[0] if extra_dimension else None)
    line = head % (int(time.time() * 1000) if timestamp_ms is None else timestamp_ms)
    if extra_dimension:
        line += _member(*extra_dimension)
    for name, value in values.items():
        line += _key(name) + _value(value)
    return line + "}\n"


def enabled() -> bool:
    """False when ``POWERTOOLS_METRICS_DISABLED`` turned metrics off (as read by :func:`configure`)."""
    return not _config["disabled"]


MAX_VALUES = 100  # numbers per metric in one EMF record (the EMF specification's limit)


_config = {"disabled": False}


def configure() -> None:
    """Read ``POWERTOOLS_METRICS_DISABLED``, ``POWERTOOLS_METRICS_NAMESPACE`` and
    ``POWERTOOLS_SERVICE_NAME`` again (done once at import: a lookup in ``os.environ``
    per request would cost more than writing the line)."""
    _config["disabled"] = os.environ.get("POWERTOOLS_METRICS_DISABLED", "").strip().lower() in _TRUE
    _head.cache_clear()


@cache
def _head(names: tuple[str, ...], dimension: str | None) -> str:
    """The fixed start of a document of this shape, built and validated by Powertools once
    per process; ``%d`` stands for the timestamp (milliseconds)."""
    provider = AmazonCloudWatchEMFProvider(
        namespace=os.environ.get("POWERTOOLS_METRICS_NAMESPACE") or DEFAULT_NAMESPACE,
        service=os.environ.get("POWERTOOLS_SERVICE_NAME") or None,
    )
    for name in names:
        provider.add_metric(name=name, unit=UNITS[name], value=0)
    document: dict[str, Any] = dict(provider.serialize_metric_set())
    directives = document["_aws"]["CloudWatchMetrics"]
    if dimension:
        for directive in directives:
            directive["Dimensions"].append([*directive["Dimensions"][0], dimension])
    fixed = "".join(_member(name, document[name]) for name in directives[0]["Dimensions"][0])
    shape = json.dumps(directives, separators=(",", ":"))
    return ('{"_aws":{"Timestamp":%d,"CloudWatchMetrics":' + shape.replace("%", "%%") + "}") + fixed.replace(
        "%", "%%"
    )


@cache
def _member(name: str, value: str) -> str:
    # dimension values are few by design (labels, problem types, reasons): cached
    return f",{json.dumps(name)}:{json.dumps(str(value))}"


@cache
def _key(name: str) -> str:
    return f",{json.dumps(name)}:"


def _value(value: float | Sequence[float]) -> str:
    if isinstance(value, int | float):
        return _number(value)
    if len(value) == 1:
        return _number(value[0])
    if not 0 < len(value) <= MAX_VALUES:
        raise ValueError(f"an EMF metric holds 1 to {MAX_VALUES} values, not {len(value)}")
    return "[" + ",".join(_number(v) for v in value) + "]"


def _number(value: float) -> str:
    if type(value) is int:
        return str(value)
    number = float(value)
    if not math.isfinite(number):
        raise ValueError(f"metric value {value!r} is not a finite number")
    return repr(number)


configure()
