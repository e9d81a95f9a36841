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

A model that raises fails only the requests of its batch (logged with status "error"); a log
that cannot be written fails them with LogUnavailable, since an answer that is not logged is not
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
    """One request's rows on their way through a batch; ``future`` is None for shadow jobs."""

    rows: list[Any]
    row_ids: list[str]
    arrival_ns: int
    started: float
    entity_key: str | None
    variant: str
    future: asyncio.Future[Scored] | None = None


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
        served = self.served
        rows = [row for job in jobs for row in job.rows]
        cpu_started = time.thread_time()
        failure: BaseException | None = None
        scored: Scored | None = None
        try:
            scored = served.score(rows)
        except Exception as exc:
            failure = exc
            log.warning("%s raised on a batch of %d rows: %r", served, len(rows), exc)
        cpu_ms = (time.thread_time() - cpu_started) * 1000.0
        answered = time.perf_counter()
        columns = self._columns(jobs, rows, scored, failure, cpu_ms, answered)
        if self._inline:
            self._commit(jobs, columns, scored, failure)
            return
        self._slots.acquire()
        with self._count_lock:
            self._committing += len(jobs)
        try:
            self._commits.submit(self._commit, jobs, columns, scored, failure, True)
        except BaseException:
            with self._count_lock:
                self._committing -= len(jobs)
            self._slots.release()
            raise

    def _commit(
        self,
        jobs: list[Job],
        columns: dict[str, Any],
        scored: Scored | None,
        failure: BaseException | None,
        release: bool = False,
    ) -> None:
        """Make the batch durable, then answer its requests (on a commit thread)."""
        served = self.served
        write_started = time.perf_counter()
        try:
            try:
                self.recorder.record(served.model_name, columns)
            except Exception as exc:
                log.exception("the prediction log of %s could not be written", served.model_name)
                failure = LogUnavailable(
                    f"the prediction log could not be written ({type(exc).__name__}); "
                    "the prediction is not acknowledged, retry",
                    model=served.model_name,
                )
            rows = len(columns["request_id"])
            elapsed = time.perf_counter() - write_started
            self.observer.batch(served.model_name, served.version, rows, elapsed)
            self._settle(jobs, self._outcomes(jobs, scored, failure))
        except BaseException as exc:  # never leave a request waiting forever
            log.exception("committing a batch of %s failed", served)
            self._settle(jobs, [exc] * len(jobs))
        finally:
            if release:
                with self._count_lock:
                    self._committing -= len(jobs)
                self._slots.release()

    def _outcomes(
        self, jobs: list[Job], scored: Scored | None, failure: BaseException | None
    ) -> list[Scored | BaseException]:
        if failure is not None or scored is None:
            error: BaseException = failure or ModelFailed("the model returned nothing")
            if not isinstance(error, KeelError):
                error = ModelFailed(
                    f"{self.served.model_name}/{self.served.version} failed: "
                    f"{type(error).__name__}: {error}"[:_ERROR_CHARS],
                    model=self.served.model_name,
                    version=self.served.version,
                )
            return [error] * len(jobs)
        outcomes: list[Scored | BaseException] = []
        start = 0
        for job in jobs:
            end = start + len(job.rows)
            scores = scored.scores[start:end] if scored.scores is not None else None
            outcomes.append(Scored(scored.predictions[start:end], scores))
            start = end
        return outcomes

    def _columns(
        self,
        jobs: list[Job],
        rows: list[Any],
        scored: Scored | None,
        failure: BaseException | None,
        cpu_ms: float,
        answered: float,
    ) -> dict[str, Any]:
        total = len(rows)
        counts = [len(job.rows) for job in jobs]
        ok = failure is None and scored is not None
        error = None if ok else f"{type(failure).__name__}: {failure}"[:_ERROR_CHARS]
        columns: dict[str, Any] = {
            "request_id": [rid for job in jobs for rid in job.row_ids],
            "version": np.full(total, self.served.version, dtype=np.int32),
            "timestamp": np.repeat([job.arrival_ns // 1000 for job in jobs], counts),
            "prediction": scored.predictions if ok and scored else [None] * total,
            "score": scored.scores if ok and scored and scored.scores is not None else None,
            "latency_ms": np.repeat([(answered - job.started) * 1000.0 for job in jobs], counts),
            "cpu_ms": np.full(total, cpu_ms / max(total, 1)),
            "status": ["ok" if ok else "error"] * total,
            "error": [error] * total,
            "entity_key": [job.entity_key for job in jobs for _ in job.rows],
            "variant": [job.variant for job in jobs for _ in job.rows],
        }
        if columns["score"] is None:
            columns["score"] = [None] * total
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
