"""The micro-batcher: concurrent requests for one version scored together in one model call.

Each served version has one batcher thread. The event loop validates a request and hands its rows
to the queue (``submit``, never blocking); the thread takes everything queued (up to
``max_rows``) and, while other requests are in the server but in no batch yet, waits up to
``max_wait_s`` for them. It calls the model once (``predict`` and ``predict_proba``) and hands
the batch to a commit thread, which writes it to the prediction log through the recorder
(returning when the rows are durable) and only then resolves every request's future, with one
wake-up of the event loop per batch. Up to ``commit_threads`` writes overlap, so while one batch
waits for its fsync the next is scored and starts its own; when all are busy the batch thread
waits and the queue grows, so batches grow with the load and each write's cost is shared by more
rows: throughput rises with concurrency instead of collapsing.

A model that raises fails only its own request: when a batch raises, its requests are scored
again one by one, and only those that raise alone fail (ModelFailed, a 500 with the model's
message; their rows are logged with status "error"); the others are answered and logged "ok".
Rows the input policy rejected (``Job.rejected``) are never scored but are logged, with status
"rejected" and the reasons in ``error``, so monitoring sees them. A log that cannot be written
fails the whole batch with LogUnavailable, since an answer that is not logged is not
acknowledged.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from keel.errors import KeelError
from keel.serving.logging import NullRecorder, PredictionRecorder
from keel.serving.served import Scored, ServedModel

log = logging.getLogger("keel.serving")

_STOP = object()
#: a model's error message is cut to this length in the log and the answer
_ERROR_CHARS = 500


class ModelFailed(KeelError):
    """The model raised on valid input (HTTP 500: the input was fine, the model was not)."""

    code = "model_error"


class LogUnavailable(KeelError):
    """The prediction log could not be written, so the answer is not acknowledged (HTTP 503)."""

    code = "log_unavailable"


class Retired(KeelError):
    """The version stopped serving before the request reached it (HTTP 503; retry)."""

    code = "unavailable"


@dataclass(slots=True)
class Job:
    """One request's rows on their way through a batch; ``future`` is None for shadow jobs.

    ``warnings`` is the log's ``warnings`` column for these rows (None: nothing to say);
    ``rejected`` maps the rows the input policy rejected to their ``error`` text: they are
    logged, not scored, and answered as None."""

    rows: list[Any]
    row_ids: list[str]
    arrival_ns: int
    started: float
    entity_key: str | None
    variant: str
    future: asyncio.Future[Scored] | None = None
    warnings: list[str | None] | None = None
    rejected: dict[int, str] | None = None

    def scorable(self) -> list[Any]:
        """The rows the model is asked about."""
        if not self.rejected:
            return self.rows
        return [row for index, row in enumerate(self.rows) if index not in self.rejected]


#: one job's answer from the model, or what the model raised on it
Result = Scored | Exception
_NOTHING = Scored([], None)


class BatchObserver:
    """What a batcher reports per batch (metrics implement it; the default ignores it)."""

    def batch(self, model: str, version: int, rows: int, log_seconds: float) -> None:
        return None


class MicroBatcher:
    """Scores the requests of one (model, version) in batches on its own thread."""

    def __init__(
        self,
        served: ServedModel,
        recorder: PredictionRecorder,
        loop: asyncio.AbstractEventLoop,
        *,
        max_rows: int = 256,
        max_wait_s: float = 0.001,
        arriving: Callable[[], int] = lambda: 0,
        observer: BatchObserver | None = None,
        commit_threads: int = 2,
    ) -> None:
        from concurrent.futures import ThreadPoolExecutor

        self.served = served
        self.recorder = recorder
        self.loop = loop
        self.max_rows = max_rows
        self.max_wait_s = max_wait_s
        self.arriving = arriving
        self.observer = observer or BatchObserver()
        self._queue: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._closed = False
        # Writes to the log overlap: while one batch waits for its fsync the next one is scored
        # and starts its own write; at most ``commit_threads`` are in flight, after which the
        # batch thread waits (and the queue, hence the next batch, grows).
        self._inline = commit_threads <= 0 or isinstance(recorder, NullRecorder)
        self._slots = threading.Semaphore(max(commit_threads, 1))
        self._committing = 0  # jobs whose batch is being written (their requests are waiting)
        self._count_lock = threading.Lock()
        self._commits = ThreadPoolExecutor(
            max(commit_threads, 1), thread_name_prefix=f"keel-log-{served.model_name}"
        )
        self._thread = threading.Thread(
            target=self._loop, name=f"keel-batch-{served.model_name}-{served.version}", daemon=True
        )
        self._thread.start()

    @property
    def backlog(self) -> int:
        """Requests queued and not yet taken into a batch."""
        return self._queue.qsize()

    def submit(self, job: Job) -> None:
        """Queue a job (from the event loop); its future resolves when its batch is logged."""
        if self._closed:
            raise Retired(f"{self.served.model_name}/{self.served.version} stopped serving")
        self._queue.put(job)

    def close(self, timeout: float = 30.0) -> None:
        """Finish every queued job, then stop the thread (blocking: call it off the loop)."""
        if not self._closed:
            self._closed = True
            self._queue.put(_STOP)
        self._thread.join(timeout)
        self._commits.shutdown(wait=True)

    # -- the batch thread ---------------------------------------------------------------------
    def _loop(self) -> None:
        take = self._queue.get
        while True:
            first = take()
            if first is _STOP:
                return
            jobs, stop = self._gather(first)
            try:
                self._run(jobs)
            except BaseException as exc:  # never leave a request waiting forever
                log.exception("batch of %s failed", self.served)
                self._settle(jobs, [exc] * len(jobs))
            if stop:
                return

    def _gather(self, first: Job) -> tuple[list[Job], bool]:
        jobs = [first]
        rows = len(first.rows)
        deadline = 0.0
        while rows < self.max_rows:
            try:
                job = self._queue.get_nowait()
            except queue.Empty:
                # wait only while requests are in the server that are in no batch yet
                if self.max_wait_s <= 0 or self.arriving() - self._committing - len(jobs) <= 0:
                    break
                now = time.perf_counter()
                deadline = deadline or now + self.max_wait_s
                if now >= deadline:
                    break
                try:
                    job = self._queue.get(timeout=deadline - now)
                except queue.Empty:
                    break
            if job is _STOP:
                return jobs, True
            jobs.append(job)
            rows += len(job.rows)
        return jobs, False

    def _run(self, jobs: list[Job]) -> None:
        cpu_started = time.thread_time()
        whole, results = self._score([job.scorable() for job in jobs])
        cpu_ms = (time.thread_time() - cpu_started) * 1000.0
        answered = time.perf_counter()
        columns = self._columns(jobs, whole, results, cpu_ms, answered)
        outcomes = [self._outcome(job, result) for job, result in zip(jobs, results, strict=True)]
        if self._inline:
            self._commit(jobs, columns, outcomes)
            return
        self._slots.acquire()
        with self._count_lock:
            self._committing += len(jobs)
        try:
            self._commits.submit(self._commit, jobs, columns, outcomes, True)
        except BaseException:
            with self._count_lock:
                self._committing -= len(jobs)
            self._slots.release()
            raise

    def _score(self, parts: list[list[Any]]) -> tuple[Scored | None, list[Result]]:
        """Each job's answer; the whole batch's too when one model call answered every job."""
        rows = parts[0] if len(parts) == 1 else [row for part in parts for row in part]
        if not rows:
            return None, [_NOTHING] * len(parts)
        try:
            whole = self._call(rows)
        except Exception as exc:
            busy = sum(1 for part in parts if part)
            log.warning("%s raised on a batch of %d rows: %r", self.served, len(rows), exc)
            if busy == 1:  # one request: nothing to tell apart
                return None, [exc if part else _NOTHING for part in parts]
            return None, [self._alone(part) for part in parts]
        results: list[Result] = []
        start = 0
        for part in parts:
            end = start + len(part)
            scores = whole.scores[start:end] if whole.scores is not None else None
            results.append(Scored(whole.predictions[start:end], scores))
            start = end
        return whole, results

    def _alone(self, part: list[Any]) -> Result:
        """One request scored on its own, after its batch raised."""
        if not part:
            return _NOTHING
        try:
            return self._call(part)
        except Exception as exc:
            return exc

    def _call(self, rows: list[Any]) -> Scored:
        scored = self.served.score(rows)
        if len(scored.predictions) != len(rows):
            raise ValueError(f"the model answered {len(scored.predictions)} of {len(rows)} rows")
        return scored

    def _outcome(self, job: Job, result: Result) -> Scored | BaseException:
        """What the job's request is answered: its predictions (None for rejected rows)."""
        if isinstance(result, Exception):
            if isinstance(result, KeelError):
                return result
            return ModelFailed(
                f"{self.served.model_name}/{self.served.version} failed: "
                f"{type(result).__name__}: {result}"[:_ERROR_CHARS],
                model=self.served.model_name,
                version=self.served.version,
            )
        return _with_rejected(job, result)

    def _commit(
        self,
        jobs: list[Job],
        columns: dict[str, Any],
        outcomes: list[Scored | BaseException],
        release: bool = False,
    ) -> None:
        """Make the batch durable, then answer its requests (on a commit thread)."""
        served = self.served
        write_started = time.perf_counter()
        try:
            try:
                self.recorder.record(served.model_name, columns, served.log_types)
            except Exception as exc:
                log.exception("the prediction log of %s could not be written", served.model_name)
                failure = LogUnavailable(
                    f"the prediction log could not be written ({type(exc).__name__}); "
                    "the prediction is not acknowledged, retry",
                    model=served.model_name,
                )
                outcomes = [failure] * len(jobs)
            rows = len(columns["request_id"])
            elapsed = time.perf_counter() - write_started
            self.observer.batch(served.model_name, served.version, rows, elapsed)
            self._settle(jobs, outcomes)
        except BaseException as exc:  # never leave a request waiting forever
            log.exception("committing a batch of %s failed", served)
            self._settle(jobs, [exc] * len(jobs))
        finally:
            if release:
                with self._count_lock:
                    self._committing -= len(jobs)
                self._slots.release()

    def _columns(
        self,
        jobs: list[Job],
        whole: Scored | None,
        results: list[Result],
        cpu_ms: float,
        answered: float,
    ) -> dict[str, Any]:
        counts = [len(job.rows) for job in jobs]
        total = sum(counts)
        rows = jobs[0].rows if len(jobs) == 1 else [row for job in jobs for row in job.rows]
        columns: dict[str, Any] = {
            "request_id": [rid for job in jobs for rid in job.row_ids],
            "version": np.full(total, self.served.version, dtype=np.int32),
            "timestamp": np.repeat([job.arrival_ns // 1000 for job in jobs], counts),
            "latency_ms": np.repeat([(answered - job.started) * 1000.0 for job in jobs], counts),
            "cpu_ms": np.full(total, cpu_ms / max(total, 1)),
            "entity_key": [job.entity_key for job in jobs for _ in job.rows],
            "variant": [job.variant for job in jobs for _ in job.rows],
        }
        if whole is not None and not any(job.rejected for job in jobs):  # the common case
            columns["prediction"] = whole.predictions
            columns["score"] = whole.scores if whole.scores is not None else [None] * total
            columns["status"] = ["ok"] * total
            columns["error"] = [None] * total
        else:
            columns.update(_row_outcomes(jobs, results))
        if any(job.warnings for job in jobs):
            columns["warnings"] = [
                w for job in jobs for w in (job.warnings or [None] * len(job.rows))
            ]
        else:
            columns["warnings"] = [None] * total
        columns.update(self.served.log_columns(rows))
        return columns

    def _settle(self, jobs: list[Job], outcomes: list[Any]) -> None:
        # a closed loop means the server is gone and nobody is waiting
        with contextlib.suppress(RuntimeError):
            self.loop.call_soon_threadsafe(_resolve, jobs, outcomes)


def _resolve(jobs: list[Job], outcomes: list[Any]) -> None:
    for job, outcome in zip(jobs, outcomes, strict=True):
        future = job.future
        if future is None or future.done():
            continue
        if isinstance(outcome, BaseException):
            future.set_exception(outcome)
        else:
            future.set_result(outcome)


def _row_outcomes(jobs: list[Job], results: list[Result]) -> dict[str, list[Any]]:
    """Prediction, score, status and error per row, when some row was not simply answered."""
    out: dict[str, list[Any]] = {"prediction": [], "score": [], "status": [], "error": []}
    for job, result in zip(jobs, results, strict=True):
        count = len(job.rows)
        rejected = job.rejected or {}
        if isinstance(result, Exception):
            text = f"{type(result).__name__}: {result}"[:_ERROR_CHARS]
            out["prediction"] += [None] * count
            out["score"] += [None] * count
            state, default = "error", text
        else:
            merged = _with_rejected(job, result)
            out["prediction"] += merged.predictions
            out["score"] += merged.scores if merged.scores is not None else [None] * count
            state, default = "ok", None
        out["status"] += ["rejected" if i in rejected else state for i in range(count)]
        out["error"] += [rejected.get(i, default) for i in range(count)]
    return out


def _with_rejected(job: Job, result: Scored) -> Scored:
    """A job's answers with None in the places of its rejected rows."""
    if not job.rejected:
        return result
    predictions: list[Any] = [None] * len(job.rows)
    scores: list[Any] | None = None if result.scores is None else [None] * len(job.rows)
    kept = [index for index in range(len(job.rows)) if index not in job.rejected]
    for position, index in enumerate(kept):
        predictions[index] = result.predictions[position]
        if scores is not None and result.scores is not None:
            scores[index] = result.scores[position]
    return Scored(predictions, scores)
