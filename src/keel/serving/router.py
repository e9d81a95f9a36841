"""Per request: which version answers, and the shadow that scores the same input unseen.

The router applies a plan, it decides nothing: ``ServingPlan.choose`` picks the stable version
or the candidate from the request's entity key (sticky deployments hash it) or a uniform draw.
For a shadow deployment the stable version answers and the candidate gets the same rows as a
job of its own batcher; its rows are logged with variant "shadow" under the same request ids
(so labels that arrive later join both versions), and nobody waits for them. When the shadow
falls behind (``shadow_backlog`` queued jobs) its work is dropped and counted, never the answer.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Callable
from dataclasses import dataclass

from keel.errors import InvalidInput, KeelError, NotFound, SignatureMismatch
from keel.serving.batching import Job
from keel.serving.inputs import ParsedRequest
from keel.serving.metrics import ServingMetrics
from keel.serving.models import Live, ModelCache
from keel.serving.served import Scored


class Unavailable(KeelError):
    """The model is known but nothing can answer for it right now (HTTP 503)."""

    code = "unavailable"


@dataclass(frozen=True)
class Routed:
    """A request on its way: who answers, under which row ids, and the future of its answer."""

    model: str
    version: int
    variant: str
    row_ids: list[str]
    future: asyncio.Future[Scored]


class Router:
    def __init__(
        self,
        cache: ModelCache,
        metrics: ServingMetrics | None = None,
        *,
        shadow_backlog: int = 256,
        draw: Callable[[], float] = random.random,
    ) -> None:
        self.cache = cache
        self.metrics = metrics
        self.shadow_backlog = shadow_backlog
        self.draw = draw

    def route(
        self,
        model: str,
        parsed: ParsedRequest,
        *,
        key: str | None,
        request_id: str,
        arrival_ns: int,
        started: float,
    ) -> Routed:
        """Validate against the chosen version and queue the rows (never awaits, so the state
        read at the start is the one the request is served by)."""
        state = self.cache.state
        plan = state.plans.get(model)
        if plan is None:
            failure = state.failures.get(model)
            if failure is not None:  # planned, but its version could not be loaded
                raise Unavailable(f"{model} cannot be served: {failure}", model=model)
            raise NotFound("model", model, hint="it has no champion and no running deployment")
        try:
            version, variant = plan.choose(key, self.draw() * 100.0)
        except InvalidInput as exc:
            raise Unavailable(exc.problem, model=model) from exc
        live = state.live.get((model, version))
        if live is None:
            raise Unavailable(f"{model}/{version} is not loaded yet", model=model)
        try:
            rows = live.served.rows(parsed)
        except SignatureMismatch:
            if self.metrics is not None:
                self.metrics.failed(model, version, "invalid_input")
            raise
        if parsed.form == "record":
            row_ids = [request_id]
        else:
            row_ids = [f"{request_id}-{index}" for index in range(len(rows))]
        future: asyncio.Future[Scored] = asyncio.get_running_loop().create_future()
        live.batcher.submit(Job(rows, row_ids, arrival_ns, started, key, variant, future))
        shadow = plan.shadow
        if shadow is not None and shadow != version:
            job = Job([], row_ids, arrival_ns, started, key, "shadow", None)
            self._shadow(state.live.get((model, shadow)), model, shadow, parsed, job)
        return Routed(model, version, variant, row_ids, future)

    def _shadow(
        self,
        live: Live | None,
        model: str,
        version: int,
        parsed: ParsedRequest,
        job: Job,
    ) -> None:
        if live is None or live.batcher.backlog >= self.shadow_backlog:
            if self.metrics is not None:
                self.metrics.dropped(model, version)
            return
        try:
            job.rows = live.served.rows(parsed)
        except SignatureMismatch:
            if self.metrics is not None:
                self.metrics.failed(model, version, "shadow_invalid_input")
            return
        try:
            live.batcher.submit(job)
        except KeelError:
            if self.metrics is not None:
                self.metrics.dropped(model, version)
