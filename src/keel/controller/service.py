"""``Retrains``: the service that owns retrains, pipeline runs and the autopilot, over the
services below it (``keel.services.Services``): it monitors, trains, gates and deploys
through them.

retraining.autopilot()                     # one reconcile pass over every governed model
retraining.autopilot_status()              # champion, retrain in flight, alerts, per model
retraining.retrain("credit", reason="new features shipped")
retraining.retrains("credit")              # what fired, what the gates said, how it ended
retraining.reproduce("credit/3")           # fit v3 again from its record and compare
retraining.decisions("credit")             # every verdict, retrain or not, with its numbers
retraining.retrain_report(12)              # one retrain in full: moves, run, gate, setup
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from keel.services import Services

if TYPE_CHECKING:
    from collections.abc import Sequence

    from keel.controller.autopilot import Decision
    from keel.controller.autopilot_status import ModelStatus
    from keel.controller.decision_log import RetrainDecision
    from keel.controller.retrain_report import RetrainReport
    from keel.controller.retrains import Retrain
    from keel.domain.reproduction import Reproduction
    from keel.monitoring.sinks import AlertSink
    from keel.pipelines.records import PipelineRun

__all__ = ["Retrains"]


class Retrains:
    """Retrains from trigger to promotion or rollback, each state change audited."""

    def __init__(self, services: Services, *, client_class: type | None = None) -> None:
        """``client_class``: what a custom pipeline step's ``context.client()`` opens."""
        self.services = services
        self.client_class = client_class

    def autopilot(
        self,
        *,
        models: list[str] | None = None,
        now: datetime | None = None,
        monitor: bool = True,
        sinks: Sequence[AlertSink] | None = None,
    ) -> list[Decision]:
        """One reconcile pass: monitor, fire triggers, train, gate, deploy, advance rollouts;
        returns every decision with its reason (each is also in the audit trail)."""
        from keel.controller.autopilot import Autopilot, controller_moment

        named = None if models is None else self.services.registry.known_models(models)
        pilot = Autopilot(
            self.services, client_class=self.client_class, monitor=monitor, sinks=sinks
        )
        return pilot.reconcile_all(now=controller_moment(now), models=named)

    def autopilot_status(self, models: list[str] | None = None) -> list[ModelStatus]:
        """Per governed model (or per one of ``models``, which must exist): the champion, the
        retrain in flight, the newest that ended, the open alerts, and whether the champion
        fails to beat a trivial baseline (its open baseline alert, spelled out)."""
        from keel.controller.autopilot_status import autopilot_status

        return autopilot_status(self.services, models)

    def retrain(
        self,
        model: str,
        *,
        reason: str = "",
        now: datetime | None = None,
        run: bool = True,
        takeover: bool = False,
    ) -> list[Decision]:
        """A manual retrain of ``model``: queued, then (``run``) driven by one pass at once.

        With one already in flight, Conflict; unless ``takeover``: then this process drives
        that one on from where it stands, if the process that held it stopped its heartbeat
        (killed, its machine gone): Conflict while that heartbeat is live. With ``takeover``
        and none in flight, a new retrain starts as usual (it needs a ``reason``).
        """
        from keel.controller import retrains
        from keel.controller.autopilot import Autopilot, Decision, controller_moment
        from keel.errors import Conflict, InvalidInput

        moment = controller_moment(now)
        pilot = Autopilot(self.services, client_class=self.client_class, monitor=False)
        if takeover:
            if not run:
                raise InvalidInput("takeover", "taking a retrain over drives it: not with queue")
            if retrains.active(self.services.stores.db, model) is not None:
                return pilot.take_over(model, moment)
        try:
            queued = pilot.request(model, reason=reason, now=moment)
        except Conflict as exc:
            raise Conflict(
                f"{exc.message}; if the process driving it was killed, `keel retrain {model} "
                "--takeover` drives it on from here once its heartbeat stopped",
                **exc.fields,
            ) from exc
        first = Decision(model, "retrain", f"manual: {queued.reason}", queued.id)
        return [first, *pilot.reconcile(model, moment)] if run else [first]

    def retrains(self, model: str | None = None, limit: int = 50) -> list[Retrain]:
        """Retrains, newest first (of ``model``, which must exist, or of every model)."""
        from keel.controller import retrains
        from keel.registry.models import positive_limit

        if model is not None:
            self.services.registry.known_models([model], "model")
        return retrains.history(self.services.stores.db, model, positive_limit(limit))

    def decisions(self, model: str, limit: int = 50) -> list[RetrainDecision]:
        """The autopilot's verdicts on retraining ``model`` (which must exist), newest first:
        idle, hold, retrain or busy, with the trigger, the reason and the trigger's numbers. A
        verdict is stored when it differs from the one before and for every retrain started,
        so each row holds from its ``decided_at`` until the next."""
        from keel.controller import decision_log
        from keel.registry.models import positive_limit

        self.services.registry.known_models([model], "model")
        return decision_log.decisions(self.services.stores.db, model, positive_limit(limit))

    def retrain_report(self, retrain_id: int) -> RetrainReport:
        """Retrain ``retrain_id`` in full: its moves from the audit trail, its pipeline run,
        its candidate's gate verdict and the training setup it chose (when recorded)."""
        from keel.controller.retrain_report import report

        return report(self.services, retrain_id)

    def pipeline_runs(
        self, model: str | None = None, *, pipeline: str | None = None, limit: int = 50
    ) -> list[PipelineRun]:
        """Pipeline runs, newest first; ``model`` filters by the name a run was started for
        (a pipeline may run before its model is registered, so any name is a valid filter)."""
        from keel.pipelines.records import list_runs
        from keel.registry.models import positive_limit

        return list_runs(
            self.services.stores.db, model=model, pipeline=pipeline, limit=positive_limit(limit)
        )

    def pipeline_run(self, run_id: str) -> PipelineRun:
        """A pipeline run by its id, or by a prefix of it (at least 4 characters) that no other
        run id begins with."""
        from keel.pipelines.records import find_run

        return find_run(self.services.stores.db, run_id)

    def reproduce(
        self,
        ref: str,
        *,
        tolerance: float | None = None,
        repository: str | None = None,
    ) -> Reproduction:
        """Fit ``ref`` again with the recorded code (a clean checkout of the recorded commit),
        snapshots and parameters, and compare its answers with the stored model's on the
        recorded holdout: ``reproduced`` when the labels are identical and probabilities within
        ``tolerance`` (1e-9 by default). Conflict, with the reason, when the record cannot be
        re-run (a dirty tree, a commit the repository lacks, no training data). The result is
        appended to the audit trail and shown by lineage; the registry is otherwise unchanged.
        ``repository``: the clone holding the commit, when not the recorded one."""
        from keel.controller.reproduction import reproduce

        return reproduce(self.services, ref, tolerance=tolerance, repository=repository)
