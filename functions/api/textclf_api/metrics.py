"""The prediction API's CloudWatch metrics, as EMF records through the shared writer
(:func:`textclf.metrics.record`: namespace, ``service`` dimension, units).

What a request records (none for /health, /docs and the other routes that neither predict nor fail):

=====================  ============  ============================================
metric                 unit          dimensions
=====================  ============  ============================================
Predictions            Count         service; service+label (predicted class)
PredictionLatency      Milliseconds  service (+ label for one-text requests)
Problems               Count         service; service+problem (4xx problem type)
Failures               Count         service (5xx answers)
=====================  ============  ============================================

**Several requests per record.** Writing a line costs a request more than building it: with
stdout unbuffered, as the Lambda runtime has it, each write is a system call that wakes the
process reading the pipe. So a container keeps its requests' values in a :class:`MetricsBuffer`
and writes them as one record per shape (metric names and dimension value), each metric's values
as an array: EMF counts every number in an array as a sample of its own, so sums, sample counts,
averages and percentiles are those of one line per request. The buffer is written

- when it holds ``METRICS_FLUSH_REQUESTS`` requests (default 10; ``1`` writes every request's
  line at once, as before);
- before a request of a later minute is added (so no value leaves the minute it belongs to:
  the record's timestamp is its first request's, and CloudWatch's finest standard resolution is
  one minute);
- at once when a request fails (5xx), with what was held before it;
- when the process ends: at interpreter exit, and on ``SIGTERM``, which Lambda sends the Python
  runtime before it shuts an execution environment down **only when an extension is registered**
  (Lambda's shutdown phase; the python3.12+ runtime polls for events in a thread so the main
  thread can run the handler). Without an extension the environment is stopped without notice,
  and what it held is lost: at most ``METRICS_FLUSH_REQUESTS - 1`` requests' values, from the
  last minute that container served.
- before a SnapStart snapshot (the warm-up's request is written during init, as before, never
  copied into every restored environment).

Values wait at most until the next request of the container (or its shutdown): a container
that serves one request and then idles writes that request's values when it serves the next.
"""

from __future__ import annotations

import atexit
import os
import signal
import sys
import time
from collections import Counter
from dataclasses import dataclass
from types import FrameType
from typing import Any

from textclf.metrics import MAX_VALUES, enabled, record

# the scope key of a request's RequestMetrics (set in Lambda only: locally nothing is emitted)
METRICS_KEY = "textclf_api.metrics"

Dimension = tuple[str, str] | None
Entry = tuple[dict[str, float], Dimension]  # one record's values of one request, and its dimension


class MetricsBuffer:
    """The metric values of up to ``max_requests`` requests, written as one EMF record per shape.

    ``max_requests`` is 1 to 100 (EMF holds at most 100 values per metric in one record; a
    request adds at most one value to each metric of a record). ``clock`` gives seconds since
    the epoch (``time.time``).
    """

    def __init__(self, max_requests: int = 1, clock: Any = time.time) -> None:
        self.max_requests = max_requests
        self.clock = clock
        self._records: dict[tuple[tuple[str, ...], Dimension], dict[str, list[float]]] = {}
        self._requests = 0
        self._minute = 0
        self._timestamp_ms = 0

    @property
    def max_requests(self) -> int:
        return self._max_requests

    @max_requests.setter
    def max_requests(self, value: int) -> None:
        if not 1 <= value <= MAX_VALUES:
            raise ValueError(f"max_requests must be 1 to {MAX_VALUES}, not {value}")
        self._max_requests = value

    @property
    def pending(self) -> int:
        """Requests whose values are held, not yet written."""
        return self._requests

    def add(self, entries: list[Entry], *, urgent: bool = False) -> None:
        """Hold one request's ``entries``; write everything held when a rule says so
        (``urgent``: a failure, written at once)."""
        if not entries or not enabled():
            return
        now_ms = int(self.clock() * 1000)
        if self._requests and now_ms // 60_000 != self._minute:
            self.flush()
        if not self._requests:
            self._minute, self._timestamp_ms = now_ms // 60_000, now_ms
        for values, dimension in entries:
            key = (tuple(values), dimension)
            record = self._records.get(key)
            if record is None:
                record = self._records[key] = {name: [] for name in values}
            for name, value in values.items():
                record[name].append(value)
        self._requests += 1
        if urgent or self._requests >= self._max_requests:
            self.flush()

    def flush(self) -> None:
        """Write every held record (one EMF line each, all in one write) and empty the buffer."""
        records, self._records, self._requests = self._records, {}, 0
        if records and enabled():
            sys.stdout.write(
                "".join(
                    record(values, dimension, self._timestamp_ms)
                    for (_, dimension), values in records.items()
                )
            )


BUFFER = MetricsBuffer()  # the container's; main.py sets its size from METRICS_FLUSH_REQUESTS


@dataclass(slots=True)
class RequestMetrics:
    """What one API request did, for its metrics (filled by the routes)."""

    labels: list[str] | None = None
    latency_ms: float = 0.0

    def predicted(self, labels: list[str], latency_ms: float) -> None:
        self.labels = labels
        self.latency_ms = latency_ms

    def entries(self, status: int, problem: str | None) -> list[Entry]:
        """The request's metric values: predictions, a problem (4xx) or a failure (5xx)."""
        if status >= 500:
            return [({"Failures": 1}, None)]
        if status >= 400:
            return [({"Problems": 1}, ("problem", problem or f"http-{status}"))]
        if not self.labels:
            return []
        counts = Counter(self.labels) if len(self.labels) > 1 else {self.labels[0]: 1}
        if len(counts) == 1:
            ((label, count),) = counts.items()
            return [({"Predictions": count, "PredictionLatency": self.latency_ms}, ("label", label))]
        entries: list[Entry] = [({"PredictionLatency": self.latency_ms}, None)]
        entries += [({"Predictions": count}, ("label", label)) for label, count in sorted(counts.items())]
        return entries

    def emit(self, status: int, problem: str | None, buffer: MetricsBuffer = BUFFER) -> None:
        """Hand the request's values to ``buffer`` (a failure is written at once)."""
        buffer.add(self.entries(status, problem), urgent=status >= 500)


def flush_at_shutdown(buffer: MetricsBuffer = BUFFER) -> bool:
    """Write ``buffer`` when the process ends: at interpreter exit, and, in a Lambda runtime
    (``AWS_LAMBDA_RUNTIME_API`` set), on ``SIGTERM`` when nothing else handles it (the default
    action, termination, follows). True when the ``SIGTERM`` handler was installed.
    Call from the main thread (signal handlers can only be set there)."""
    atexit.register(buffer.flush)
    if "AWS_LAMBDA_RUNTIME_API" not in os.environ or signal.getsignal(signal.SIGTERM) != signal.SIG_DFL:
        return False

    def on_sigterm(signum: int, frame: FrameType | None) -> None:
        buffer.flush()
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        signal.raise_signal(signal.SIGTERM)

    signal.signal(signal.SIGTERM, on_sigterm)
    return True
