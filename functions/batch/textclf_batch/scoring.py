"""Scoring chunks of texts, in this process or spread over the CPUs the function has.

:func:`score_records` is the loop both paths run (the single-function path over a whole
object, the fan-out over one byte range): records in, encoded rows and errors-file lines out.
:func:`score_chunk` is the unit of work. :class:`InlineScorer` runs it here;
:class:`ProcessScorer` runs it in forked worker processes, one per vCPU, talking
over ``multiprocessing.Pipe`` (Lambda has no ``/dev/shm``, so ``Pool`` and
``Queue``, which need POSIX semaphores, do not work there). Both return results in
the order the chunks were given, so output rows stay in input order.
"""

from __future__ import annotations

import json
import logging
import multiprocessing
import os
from collections import Counter, deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from typing import Any, Protocol

from textclf.model import Predictor
from textclf_batch.errors import BatchProcessingError
from textclf_batch.formats import Blank, Record, Rejected, Row, Scores, TableFormat

logger = logging.getLogger(__name__)


def score_chunk(predictor: Predictor, texts: Sequence[str]) -> Scores:
    """The (len(texts), len(classes)) score matrix of ``texts``; ``ValueError`` if the
    predictor's matrix has another shape (a backend bug: the file fails, nothing is published)."""
    matrix = predictor.score_matrix(texts)
    expected = (len(texts), len(predictor.classes))
    if matrix.shape != expected:
        raise ValueError(f"the model returned scores of shape {matrix.shape}, expected {expected}")
    return Scores(matrix)


class ChunkScorer(Protocol):
    """Scores a stream of (item, texts) pairs, yielding (item, scores) in the same order."""

    def map(self, chunks: Iterable[tuple[Any, list[str]]]) -> Iterator[tuple[Any, Scores]]: ...

    def close(self) -> None: ...


class InlineScorer:
    """Scores in the calling process (one vCPU, or parallelism switched off)."""

    def __init__(self, predictor: Predictor) -> None:
        self._predictor = predictor

    def map(self, chunks: Iterable[tuple[Any, list[str]]]) -> Iterator[tuple[Any, Scores]]:
        for item, texts in chunks:
            yield item, score_chunk(self._predictor, texts)

    def close(self) -> None:
        pass


def _serve(conn: Connection, predictor: Predictor) -> None:
    """Worker loop: receive a list of texts, send back ("ok", Scores) or ("error", message).
    A :class:`Scores` pickles as its array's header and raw bytes."""
    while True:
        try:
            texts = conn.recv()
        except EOFError:
            return
        if texts is None:
            return
        try:
            conn.send(("ok", score_chunk(predictor, texts)))
        except Exception as exc:  # reported to the parent, which fails the file
            conn.send(("error", f"{type(exc).__name__}: {exc}"))


class ProcessScorer:
    """Forked workers, each with one chunk in flight, fed round-robin.

    The model is loaded once, before the fork; the workers share its memory
    copy-on-write. Chunk ``i`` always goes to worker ``i % n`` and results are read
    back in submission order, so at most one message is ever in flight per pipe
    direction and the pipes can never deadlock.
    """

    def __init__(self, predictor: Predictor, workers: int) -> None:
        context = multiprocessing.get_context("fork")
        self.workers = workers
        self._conns: list[Connection] = []
        self._procs: list[Any] = []
        for _ in range(workers):
            parent, child = context.Pipe(duplex=True)
            proc = context.Process(target=_serve, args=(child, predictor), daemon=True)
            proc.start()
            child.close()
            self._conns.append(parent)
            self._procs.append(proc)

    def _receive(self, worker: int) -> Scores:
        try:
            status, payload = self._conns[worker].recv()
        except (EOFError, OSError) as exc:
            code = self._procs[worker].exitcode
            raise BatchProcessingError(
                "worker_failed", f"scoring worker {worker} died (exit code {code}): {exc!r}"
            ) from None
        if status != "ok":
            raise BatchProcessingError("scoring_failed", f"scoring worker {worker} failed: {payload}")
        result: Scores = payload
        return result

    def map(self, chunks: Iterable[tuple[Any, list[str]]]) -> Iterator[tuple[Any, Scores]]:
        pending: deque[tuple[int, Any]] = deque()
        for index, (item, texts) in enumerate(chunks):
            worker = index % self.workers
            if len(pending) == self.workers:  # the oldest chunk is this worker's previous one
                done_worker, done_item = pending.popleft()
                yield done_item, self._receive(done_worker)
            self._conns[worker].send(texts)
            pending.append((worker, item))
        while pending:
            done_worker, done_item = pending.popleft()
            yield done_item, self._receive(done_worker)

    def close(self) -> None:
        for conn in self._conns:
            try:
                conn.send(None)
            except OSError:
                pass
        for proc in self._procs:
            proc.join(timeout=5)
            if proc.is_alive():
                proc.terminate()
                proc.join(timeout=5)
        for conn in self._conns:
            conn.close()
        self._conns, self._procs = [], []


def available_cpus() -> int:
    """vCPUs this process may run on (Lambda: 1 up to 1769 MB, up to 6 at 10240 MB)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def make_scorer(predictor: Predictor, workers: int = 0) -> ChunkScorer:
    """``workers`` processes (0 = one per available vCPU); in-process when that is 1."""
    count = workers or available_cpus()
    if count <= 1:
        return InlineScorer(predictor)
    try:
        return ProcessScorer(predictor, count)
    except OSError as exc:  # e.g. a sandbox that forbids fork: still correct, only slower
        logger.warning("cannot start %d scoring workers (%s); scoring in-process", count, exc)
        return InlineScorer(predictor)


def json_line(value: dict[str, Any]) -> bytes:
    """One line of an errors file (JSON Lines, UTF-8, compact, ending in ``\\n``)."""
    return (json.dumps(value, ensure_ascii=False, separators=(",", ":")) + "\n").encode("utf-8")


@dataclass(slots=True)
class Tally:
    """What :func:`score_records` has seen so far, updated as it goes (a caller reads it after an
    exception too). ``read`` counts records after the header (``scored + rejected`` once done);
    ``blank`` counts blank lines; ``reasons`` the rejections by reason code."""

    read: int = 0
    scored: int = 0
    rejected: int = 0
    blank: int = 0
    reasons: Counter[str] = field(default_factory=Counter)


def score_records(
    records: Iterable[Record],
    fmt: TableFormat,
    predictor: Predictor,
    write: Callable[[bytes], None],
    write_error: Callable[[bytes], None],
    *,
    chunk_rows: int,
    workers: int,
    tally: Tally | None = None,
    check_time: Callable[[], None] | None = None,
) -> Tally:
    """Score ``records`` in chunks of ``chunk_rows`` rows on ``workers`` processes (0 = one per
    vCPU, 1 = in this process; :func:`make_scorer`), in input order.

    Each chunk's rows go to ``write`` as ``fmt.encode`` bytes (the caller writes ``fmt.header()``
    first if it wants one); each rejected record goes to ``write_error`` as one errors-file line
    (:func:`json_line` of ``Rejected.as_json(row number)``, row numbers counting from 1 in this
    call or after ``tally.read``). Returns ``tally`` (a new one if None), updated as it goes.

    ``check_time`` is called before each chunk is handed to the scorer and raises to stop (the
    caller's time limit). Errors: whatever ``records`` raises (``UnicodeDecodeError`` from a
    UTF-16/32 stream: the caller knows the encoding and reports it, with ``tally.read``),
    :class:`BatchProcessingError` from a failed scoring worker.
    """
    counts = tally if tally is not None else Tally()

    def chunks() -> Iterator[tuple[list[Row], list[str]]]:
        rows: list[Row] = []
        for record in records:
            if isinstance(record, Blank):
                counts.blank += 1
                continue
            counts.read += 1
            if isinstance(record, Rejected):
                counts.rejected += 1
                counts.reasons[record.reason] += 1
                write_error(json_line(record.as_json(counts.read)))
                continue
            rows.append(record)
            if len(rows) >= chunk_rows:
                if check_time is not None:
                    check_time()
                yield rows, [r.text for r in rows]
                rows = []
        if rows:
            if check_time is not None:
                check_time()
            yield rows, [r.text for r in rows]

    scorer = make_scorer(predictor, workers)
    try:
        for rows, scores in scorer.map(chunks()):
            write(fmt.encode(rows, scores, predictor.classes))
            counts.scored += len(rows)
    finally:
        scorer.close()
    return counts
