"""Per request: which version answers, and the shadow that scores the same input unseen.

The router applies a plan, it decides nothing: ``ServingPlan.choose`` picks the stable version
or the candidate from the request's entity key (sticky deployments hash it) or a uniform draw.
For a shadow deployment the stable version answers and the candidate gets the same rows as a
job of its own batcher; its rows are logged with variant "shadow" under the same request ids
(so labels that arrive later join both versions), and nobody waits for them. When the shadow
falls behind (``shadow_backlog`` queued jobs) its work is dropped and counted, never the answer.

Each version checks the rows against its own signature under the model's input policy
(``Live.schema``): malformed rows refuse the request here, before anything is queued; flagged
and rejected rows travel with the job, so the batcher logs them and the answer can say so.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Callable
from dataclasses import dataclass

from keel.errors import InvalidInput, KeelError, NotFound, SignatureMismatch
from keel.serving.batching import Job
from keel.serving.inputs import Checked, ParsedRequest, records_of
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
    checked: Checked | None = None


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
            checked = _check(live, parsed)
        except SignatureMismatch:
            if self.metrics is not None:
                self.metrics.failed(model, version, "invalid_input")
            raise
        if parsed.form == "record":
            row_ids = [request_id]
        else:
            row_ids = [f"{request_id}-{index}" for index in range(parsed.rows)]
        future: asyncio.Future[Scored] = asyncio.get_running_loop().create_future()
        job = Job([], row_ids, arrival_ns, started, key, variant, future)
        live.batcher.submit(_fill(job, parsed, checked))
        if checked is not None and self.metrics is not None:
            if checked.warnings:
                self.metrics.inputs_found(model, version, checked.warnings, "flagged")
            if checked.rejected:
                self.metrics.inputs_found(model, version, checked.rejected, "rejected")
        shadow = plan.shadow
        if shadow is not None and shadow != version:
            job = Job([], row_ids, arrival_ns, started, key, "shadow", None)
            self._shadow(state.live.get((model, shadow)), model, shadow, parsed, job)
        return Routed(model, version, variant, row_ids, future, checked)

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
            checked = _check(live, parsed)
        except SignatureMismatch:
            if self.metrics is not None:
                self.metrics.failed(model, version, "shadow_invalid_input")
            return
        try:
            live.batcher.submit(_fill(job, parsed, checked))
        except KeelError:
            if self.metrics is not None:
                self.metrics.dropped(model, version)


def _check(live: Live, parsed: ParsedRequest) -> Checked | None:
    """The request's rows checked by ``live``'s signature; None for a version without one."""
    if live.schema is None:
        return None
    return live.schema.check(parsed, model=f"{live.served.model_name}/{live.served.version}")


def _fill(job: Job, parsed: ParsedRequest, checked: Checked | None) -> Job:
    """The job with its rows and what the input policy found in them."""
    if checked is None:
        job.rows = list(records_of(parsed))
        return job
    job.rows = checked.rows
    job.warnings = checked.log_warnings()
    job.rejected = checked.log_rejections() or None
    return job
