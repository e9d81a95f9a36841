"""The autopilot: one reconcile pass per model, run once (cron) or in a loop.

A pass monitors the model's new log data, then either drives the retrain in flight one state
further (train and gate, deploy, advance the rollout, record the end) or, with none in flight,
asks the triggers and guards whether to start one. Every state change is one committed
transaction with an audit entry saying why, and each needs the retrain's lease, so killing the
autopilot at any point and starting it again continues (or cleanly ends) the work in flight:
never two champions (the alias is one row), never a half rollout left alone (the next pass
advances or rolls it back), never a duplicated retrain (one in flight per model, and a resumed
pipeline finds the version it registered before).

While it drives a retrain, the autopilot renews the retrain's lease with a heartbeat
(``keel.controller.heartbeat``; every ``heartbeat_s``, 5 s by default, the lease lasting
``heartbeat_misses`` beats, 3, past the newest). A pass that finds a retrain whose holder stopped
beating takes it over; ``take_over`` does that on request (``keel retrain MODEL --takeover``) and
refuses while the holder's heartbeat is live.
"""

from __future__ import annotations

import contextlib
import logging
import math
import time
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from keel.controller import decision_log, retrains
from keel.controller.decisions import Decision, PassFacts, controller_moment
from keel.controller.heartbeat import Heartbeat
from keel.controller.retrain_states import RetrainStates
from keel.controller.retrains import Retrain
from keel.controller.triggers import Verdict, consider
from keel.domain.policy import Policy
from keel.errors import Conflict, InvalidInput, KeelError
from keel.registry.clock import utcnow
from keel.services import HasServices, Services

if TYPE_CHECKING:
    from keel.monitoring.sinks import AlertSink
    from keel.pipelines.pipeline import Pipeline

__all__ = ["Autopilot", "Decision", "controller_moment"]

log = logging.getLogger("keel.autopilot")


class Autopilot(RetrainStates):
    """Keeps every model with a policy under its triggers, gates and rollout strategy."""

    def __init__(
        self,
        services: Services | HasServices,
        *,
        lease_s: float | None = None,
        heartbeat_s: float | None = None,
        heartbeat_misses: int | None = None,
        clock: Callable[[], datetime] | None = None,
        monitor: bool = True,
        sinks: Sequence[AlertSink] | None = None,
        pipeline: Pipeline | None = None,
        client_class: type | None = None,
    ) -> None:
        """``services`` are the services over one set of stores (or a ``keel.Client``, which
        holds them); custom pipeline steps that open a client open one of its class (or of
        ``client_class``).
        ``heartbeat_s`` and ``heartbeat_misses`` default to the stores' settings (5 s, 3);
        the lease lasts ``lease_s`` past each beat, by default ``heartbeat_misses`` beats.
        ``heartbeat_s=0`` beats only when a lease is taken (the lease then lasts ``lease_s``
        from each pass). ``clock`` stamps leases and beats (the registry's clock by default);
        the pass's own ``now`` is the simulated time of triggers and rollouts instead."""
        from keel.controller.retraining import standard_pipeline

        self.services = services if isinstance(services, Services) else services.services
        self.stores = self.services.stores
        #: the class custom steps open a client of (``StepContext.client``), when there is one
        self.client_class = client_class
        if client_class is None and not isinstance(services, Services):
            self.client_class = type(services)
        settings = self.stores.settings
        if heartbeat_s is None:
            heartbeat_s = settings.retrain_heartbeat_s
        if heartbeat_misses is None:
            heartbeat_misses = settings.retrain_heartbeat_misses
        if not (heartbeat_s >= 0 and math.isfinite(heartbeat_s)):
            raise InvalidInput("heartbeat", "must be a number of seconds, 0 or more")
        if heartbeat_misses < 2:
            raise InvalidInput("heartbeat_misses", "must be at least 2 beats")
        lease = heartbeat_s * heartbeat_misses if lease_s is None else lease_s
        if not (lease > heartbeat_s and math.isfinite(lease)):
            raise InvalidInput(
                "lease",
                f"must be longer than the heartbeat ({heartbeat_s:g} s), or a live retrain "
                "would lose its lease between two beats",
            )
        self.owner = retrains.controller_id()
        self.lease = timedelta(seconds=lease)
        self.heartbeat_s = heartbeat_s
        self.clock = clock or utcnow
        self.monitor = monitor
        self.sinks = sinks
        self.pipeline = pipeline or standard_pipeline()
        self._custom = pipeline is not None

    # -- entry points -----------------------------------------------------------------------
    def reconcile_all(
        self, now: datetime | None = None, models: list[str] | None = None
    ) -> list[Decision]:
        """One pass over ``models`` (default: every model with a stored policy)."""
        governed = self._governed() if models is None else dict.fromkeys(models)
        out: list[Decision] = []
        for name, policy in governed.items():
            try:
                out.extend(self.reconcile(name, now, policy=policy))
            except KeelError as exc:  # one model's trouble must not stop the others
                out.append(Decision(name, "error", exc.message))
            except Exception as exc:  # nor a model's (or trainer's) own exception
                log.exception("the autopilot's pass over %s failed", name)
                out.append(Decision(name, "error", f"unexpected {type(exc).__name__}: {exc}"))
        return out

    def run(
        self,
        *,
        every_s: float = 60.0,
        duration_s: float | None = None,
        models: list[str] | None = None,
        on_decision: Callable[[Decision], None] | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        """Reconcile every ``every_s`` seconds until ``duration_s`` passed (forever by default)."""
        started = time.monotonic()
        while True:
            for decision in self.reconcile_all(models=models):
                if on_decision is not None:
                    on_decision(decision)
            if duration_s is not None and time.monotonic() - started + every_s > duration_s:
                return
            sleep(every_s)

    def request(
        self, model: str, *, reason: str, now: datetime | None = None, actor: str | None = None
    ) -> Retrain:
        """A manual retrain (no trigger, no guards): queued for the next pass; ``actor`` (the
        client's by default) is who asked, for the audit trail."""
        from keel.domain.names import ModelRef

        if not isinstance(reason, str) or not reason.strip():
            raise InvalidInput("reason", "a manual retrain needs a reason (text)")
        registry = self.services.registry
        registry.get_version(ModelRef(model, alias="champion"))  # NotFound without one
        return retrains.request(
            self.stores.db,
            actor or self.stores.actor,
            model,
            trigger="manual",
            reason=reason.strip(),
            now=controller_moment(now) or utcnow(),
        )

    def reconcile(
        self, model: str, now: datetime | None = None, *, policy: Policy | None = None
    ) -> list[Decision]:
        """One pass over ``model``: its policy (``policy``, when the caller read it already)
        and its labels are read once and shared by the monitoring run, the triggers and the
        rollout's analysis."""
        from keel.monitoring.model_reads import ModelReads

        moment = now or utcnow()
        if policy is None:
            policy = self.services.governance.get_policy(model) or Policy()
        stores = self.stores
        reads = ModelReads(stores.db, stores.artifacts, stores.logs, model, policy)
        facts = PassFacts(policy, reads)
        out: list[Decision] = []
        if self.monitor:
            try:
                out.append(self._monitor(model, facts, moment))
            except KeelError as exc:  # e.g. a candidate that raises (ModelFailed): its rollout
                # must still be driven, so that it can be rolled back
                out.append(Decision(model, "error", f"monitoring failed: {exc.message}"))
        current = retrains.active(self.stores.db, model)
        if current is None:
            started = self._consider(model, facts, moment)
            out.append(started[0])
            current = started[1]
            if current is None:
                return out
        out.extend(self._drive(current, facts, moment))
        return out

    # -- steps ------------------------------------------------------------------------------
    def _governed(self) -> dict[str, Policy | None]:
        """Every model with a stored policy, and that policy (read once for the pass)."""
        governance = self.services.governance
        policies = {
            m.name: governance.get_policy(m.name) for m in self.services.registry.list_models()
        }
        return {name: policy for name, policy in policies.items() if policy is not None}

    def _monitor(self, model: str, facts: PassFacts, now: datetime) -> Decision:
        result = self.services.monitoring.monitor_under(
            model, facts.policy, now=now, sinks=self.sinks, reads=facts.reads
        )
        fired = [a for a in result.alerts if a.transition == "fired"]
        shown = result.to_dict()  # the details are stored as JSON
        return Decision(
            model,
            "monitor",
            f"{len(result.windows)} new windows, {len(fired)} alerts fired",
            details={"windows": shown["windows"], "alerts": shown["alerts"]},
        )

    def _consider(
        self, model: str, facts: PassFacts, now: datetime
    ) -> tuple[Decision, Retrain | None]:
        """Whether to start a retrain, and the verdict kept (``keel.controller.decision_log``)
        so that a window that did not retrain is explained as well as one that did."""
        champion = self._champion(model)
        verdict = (
            None
            if champion is None
            else consider(self.services, model, facts.policy, champion, now, facts.reads)
        )
        decided = self._verdict(model, champion, verdict, now)
        decision_log.keep(self.stores.db, decided[0], champion=champion, verdict=verdict, now=now)
        return decided

    def _verdict(
        self, model: str, champion: int | None, verdict: Verdict | None, now: datetime
    ) -> tuple[Decision, Retrain | None]:
        """The decision ``verdict`` makes, with the retrain it started (if it started one)."""
        if champion is None or verdict is None:
            return Decision(model, "idle", "no champion to retrain"), None
        if verdict.trigger is None:
            return Decision(model, "idle", verdict.reason, details=verdict.details), None
        if verdict.hold is not None:
            return Decision(
                model,
                "hold",
                f"{verdict.trigger} ({verdict.reason}) held by {verdict.hold}",
                details=verdict.details,
            ), None
        try:
            started = retrains.request(
                self.stores.db,
                self.stores.actor,
                model,
                trigger=verdict.trigger,
                reason=verdict.reason,
                now=now,
                details={"champion": champion, **_plain(verdict.details)},
            )
        except Conflict as exc:  # another controller started one a moment ago
            return Decision(model, "busy", exc.message), None
        return Decision(
            model, "retrain", f"{verdict.trigger}: {verdict.reason}", started.id
        ), started

    def take_over(self, model: str, now: datetime | None = None) -> list[Decision]:
        """Drive ``model``'s retrain in flight from this process, taking its lease from a holder
        whose heartbeat stopped (audited as ``retrain.takeover``). NotFound with none in flight;
        Conflict while its holder's heartbeat is live."""
        from keel.errors import NotFound

        current = retrains.active(self.stores.db, model)
        if current is None:
            raise NotFound(
                "retrain in flight of",
                model,
                hint=f"start one with `keel retrain {model} --reason ...`",
            )
        if not self._take(current):
            raise Conflict(self._held(current.id), retrain=current.id, model=model)
        first = Decision(
            model,
            "takeover",
            f"took over retrain #{current.id} ({current.state})"
            + (f" from {current.lease_owner}" if current.lease_owner else ""),
            current.id,
        )
        return [first, *self.reconcile(model, now)]

    def _take(self, retrain: Retrain) -> bool:
        return retrains.take_lease(
            self.stores.db,
            retrain.id,
            self.owner,
            self.lease,
            now=self.clock(),
            actor=self.stores.actor,
        )

    def _held(self, retrain_id: int) -> str:
        """Who holds the retrain and how fresh its heartbeat is, for a refusal."""
        held = retrains.get(self.stores.db, retrain_id)
        seen = held.heartbeat_at or held.lease_until
        age = (
            ""
            if seen is None
            else f", last heartbeat {(self.clock() - seen).total_seconds():.0f} s ago"
        )
        return (
            f"retrain #{held.id} of {held.model} is held by {held.lease_owner}{age}; it can be "
            f"taken over once its heartbeat is older than {self.lease.total_seconds():g} s "
            "(the process driving it is still alive otherwise)"
        )

    def _drive(self, retrain: Retrain, facts: PassFacts, now: datetime) -> list[Decision]:
        db = self.stores.db
        if not self._take(retrain):
            return [Decision(retrain.model, "busy", self._held(retrain.id), retrain.id)]
        out: list[Decision] = []
        beating = (
            Heartbeat(
                db,
                retrain.id,
                self.owner,
                every_s=self.heartbeat_s,
                lease=self.lease,
                clock=self.clock,
            )
            if self.heartbeat_s > 0
            else contextlib.nullcontext()
        )
        try:
            with beating:
                while retrain.active:
                    moved, decision = self._step(retrain, facts, now)
                    out.append(decision)
                    if moved is None:
                        break
                    retrain = moved
        finally:
            if retrain.active:
                retrains.release_lease(db, retrain.id, self.owner)
        return out

    def _step(
        self, retrain: Retrain, facts: PassFacts, now: datetime
    ) -> tuple[Retrain | None, Decision]:
        """One move of the state machine: (the moved retrain, or None to stop here; what)."""
        handler = {
            "queued": self._queued,
            "training": self._training,
            "deploying": self._deploying,
            "rolling_out": self._rolling_out,
        }[retrain.state]
        return handler(retrain, facts, now)


def _plain(details: dict[str, Any]) -> dict[str, Any]:
    import json

    return json.loads(json.dumps(details, default=str))
