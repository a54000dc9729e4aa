"""The prediction API's CloudWatch metrics, one EMF line per request through the shared
writer (:func:`textclf.metrics.emit`: namespace, ``service`` dimension, units).

One line per request that predicted or failed; none for /health, /docs:

=====================  ============  ============================================
metric                 unit          dimensions
=====================  ============  ============================================
Predictions            Count         service; service+label (predicted class)
PredictionLatency      Milliseconds  service (+ label for one-text requests)
Problems               Count         service; service+problem (4xx problem type)
Failures               Count         service (5xx answers)
=====================  ============  ============================================
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

from textclf.metrics import emit


@dataclass(slots=True)
class RequestMetrics:
    """What one API request did, for its metrics line (filled by the routes)."""

    labels: list[str] | None = None
    latency_ms: float = 0.0

    def predicted(self, labels: list[str], latency_ms: float) -> None:
        self.labels = labels
        self.latency_ms = latency_ms

    def emit(self, status: int, problem: str | None) -> None:
        """The request's metric lines: predictions, a problem (4xx) or a failure (5xx)."""
        if status >= 500:
            emit({"Failures": 1})
        elif status >= 400:
            emit({"Problems": 1}, ("problem", problem or f"http-{status}"))
        elif self.labels:
            counts = Counter(self.labels) if len(self.labels) > 1 else {self.labels[0]: 1}
            if len(counts) == 1:
                ((label, count),) = counts.items()
                emit({"Predictions": count, "PredictionLatency": self.latency_ms}, ("label", label))
                return
            emit({"PredictionLatency": self.latency_ms})
            for label, count in sorted(counts.items()):
                emit({"Predictions": count}, ("label", label))
