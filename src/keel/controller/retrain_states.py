"""The moves of a retrain's state machine, one method per state: queued -> training (the
retraining pipeline, resumed from its failed step on the next pass) -> deploying -> rolling_out
-> an end (promoted, rolled back, rejected, held, failed, abandoned); a retrain whose window
holds no labelled row its champion has not seen is held before it trains. Each move is one
committed transaction under the retrain's lease, with an audit entry saying why.

:class:`RetrainStates` is a base of :class:`keel.controller.autopilot.Autopilot`, which holds
what the moves read (the services, the lease's owner, the pipeline) and takes the lease and
beats the heartbeat around them.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import TYPE_CHECKING, Any

from keel.controller import retrains
from keel.controller.decisions import Decision, PassFacts
from keel.controller.handover import Handover
from keel.controller.retrains import Retrain
from keel.domain.policy import Policy
from keel.errors import Conflict, GateFailed, KeelError, NotFound, PipelineFailed

if TYPE_CHECKING:
    from keel.domain.deployments import Deployment
    from keel.pipelines.pipeline import Pipeline
    from keel.pipelines.records import PipelineRun
    from keel.services import Services
    from keel.stores import Stores

__all__ = ["RetrainStates"]


class RetrainStates:
    """One move of a retrain per call, by its state; the autopilot supplies the attributes."""

    services: Services
    stores: Stores
    #: this controller's id, the lease holder every move is made as
    owner: str
    client_class: type | None
    pipeline: Pipeline
    #: whether ``pipeline`` was given (else the standard one, refit per the policy)
    _custom: bool

    def _champion(self, model: str) -> int | None:
        from keel.registry.deployments import champion_in

        with self.stores.db.read() as conn:
            return champion_in(conn, model)

    def _move(
        self, retrain: Retrain, state: str, reason: str, now: datetime, **values: Any
    ) -> Retrain:
        return retrains.move(
            self.stores.db,
            self.stores.actor,
            retrain,
            self.owner,
            state,
            reason=reason,
            now=now,
            **values,
        )

    def _queued(
        self, retrain: Retrain, facts: PassFacts, now: datetime
    ) -> tuple[Retrain, Decision]:
        champion = retrain.details.get("champion") or self._champion(retrain.model)
        if champion is None:
            moved = self._move(retrain, "abandoned", "the model has no champion any more", now)
            return moved, Decision(retrain.model, "abandoned", "no champion", retrain.id)
        if not self._custom:
            held = self._nothing_new(retrain, int(champion), facts.policy, now)
            if held is not None:
                return held
        run_id = uuid.uuid4().hex
        moved = self._move(
            retrain,
            "training",
            f"pipeline run {run_id}",
            now,
            pipeline_run_id=run_id,
            details={**retrain.details, "champion": champion, "attempts": 0},
        )
        return moved, Decision(retrain.model, "train", f"pipeline run {run_id} started", retrain.id)

    def _training(
        self, retrain: Retrain, facts: PassFacts, now: datetime
    ) -> tuple[Retrain | None, Decision]:
        from keel.pipelines import records

        run_id = str(retrain.pipeline_run_id)
        params = {
            "model": retrain.model,
            "champion": int(retrain.details["champion"]),
            "now": now.isoformat(),
            "retrain": retrain.id,
            "trigger": retrain.trigger,
            "policy": facts.policy.to_dict(),  # the pass's: its steps read no other
        }
        try:
            try:
                record = records.get_run(self.stores.db, run_id)
            except NotFound:
                record = None
            if record is not None and record.status == "succeeded":
                outputs = self._outputs(record)
            else:
                result = self._pipeline(facts.policy, record).run(
                    self.stores,
                    params if record is None else None,
                    executor=facts.policy.retraining.executor,
                    model=retrain.model,
                    run_id=run_id if record is None else None,
                    resume=run_id if record is not None else None,
                    client_class=self.client_class,
                )
                outputs = result.outputs
        except (PipelineFailed, KeelError) as exc:
            attempts = int(retrain.details.get("attempts", 0)) + 1
            cause = _cause(exc)
            details = {**retrain.details, "attempts": attempts, "error": cause}
            if attempts >= facts.policy.retraining.max_attempts:
                outcome = (
                    f"{cause}; gave up after {attempts} attempt(s): fix the cause, then start "
                    f"a new retrain with `keel retrain {retrain.model}`"
                )
                moved = self._move(
                    retrain, "failed", outcome, now, details=details, outcome=outcome
                )
                return moved, Decision(retrain.model, "failed", outcome, retrain.id)
            retrains.keep_details(self.stores.db, retrain, self.owner, details)
            left = facts.policy.retraining.max_attempts - attempts
            return None, Decision(
                retrain.model,
                "retry",
                f"attempt {attempts} failed: {cause}; the autopilot resumes it from the failed "
                f"step on its next pass (`keel autopilot --once`), {left} attempt(s) left",
                retrain.id,
            )
        handover = Handover.of(outputs)
        version, verdict = handover.version, handover.verdict
        reasons = "; ".join(verdict.reasons) or verdict.verdict
        details = {**retrain.details, **handover.details(), **_selection(outputs)}
        if not verdict.blessed:
            moved = self._move(
                retrain,
                "rejected",
                reasons,
                now,
                candidate_version=version,
                outcome=reasons,
                details=details,
            )
            return moved, Decision(retrain.model, "rejected", f"v{version}: {reasons}", retrain.id)
        moved = self._move(
            retrain,
            "deploying",
            f"v{version} passed the gates",
            now,
            candidate_version=version,
            details=details,
        )
        return moved, Decision(retrain.model, "blessed", f"v{version} passed the gates", retrain.id)

    def _nothing_new(
        self, retrain: Retrain, champion: int, policy: Policy, now: datetime
    ) -> tuple[Retrain, Decision] | None:
        """The retrain held, before it trains, when every labelled row the standard window
        would train on was in its champion's window (``keel.controller.retrain_novelty``): a
        candidate of the same rows would be judged on noise. None when it has rows to learn.
        A custom pipeline chooses its own rows, so it is not asked."""
        from keel.controller.retrain_novelty import novelty

        found = novelty(self.services, retrain.model, champion, policy, now)
        if not found.held:
            return None
        outcome = found.reason()
        details = {**retrain.details, "champion": champion, "novelty": found.to_dict()}
        moved = self._move(retrain, "held", outcome, now, details=details, outcome=outcome)
        return moved, Decision(retrain.model, "held", outcome, retrain.id)

    def _pipeline(self, policy: Policy, record: PipelineRun | None) -> Pipeline:
        """The pipeline to run: the one given, else the standard one, with its ``refitted`` step
        when the policy asks for a refit (a resumed run keeps the steps it started with)."""
        if self._custom:
            return self.pipeline
        from keel.controller.retraining import standard_pipeline

        if record is None:
            return (
                standard_pipeline(refit=True) if policy.retraining.training.refit else self.pipeline
            )
        steps = {s.name for s in record.steps}
        return standard_pipeline(refit="refitted" in steps, choose="setup" in steps)

    def _outputs(self, record: PipelineRun) -> dict[str, Any]:
        import cloudpickle

        return {
            s.name: cloudpickle.loads(self.stores.artifacts.get(s.output_sha256))
            for s in record.steps
            if s.name in ("setup", "registered", "gate", "refitted") and s.output_sha256
        }

    def _deploying(
        self, retrain: Retrain, facts: PassFacts, now: datetime
    ) -> tuple[Retrain | None, Decision]:
        version = int(retrain.candidate_version or 0)
        # started before a crash: adopt it rather than deploy twice. The candidate is this
        # retrain's own version (registered by its pipeline, tagged with its id), so any
        # deployment of it is this retrain's; matching by time would compare the autopilot's
        # (possibly simulated) clock with whichever clock stamped the deployment.
        deployment = next(
            (
                d
                for d in self.services.rollouts.deployments(retrain.model, limit=20)
                if d.candidate_version == version
            ),
            None,
        )
        if deployment is None:
            try:
                deployment = self.services.rollouts.deploy(
                    retrain.model,
                    version,
                    reason=f"retrain #{retrain.id}: {retrain.trigger}",
                    now=now,
                    policy=facts.policy,
                )
            except GateFailed as exc:  # e.g. waiting for a person's approval
                return None, Decision(retrain.model, "waiting", exc.message, retrain.id)
        if deployment.status == "running":
            moved = self._move(
                retrain,
                "rolling_out",
                f"{deployment.strategy} rollout #{deployment.id} started",
                now,
                deployment_id=deployment.id,
            )
            return moved, Decision(
                retrain.model,
                "deploy",
                f"v{version}: {deployment.strategy} rollout #{deployment.id}",
                retrain.id,
            )
        return self._ended(retrain, deployment, now)

    def _rolling_out(
        self, retrain: Retrain, facts: PassFacts, now: datetime
    ) -> tuple[Retrain | None, Decision]:
        from keel.registry import deployments

        deployment = deployments.get(self.stores.db, int(retrain.deployment_id or 0))
        if deployment.status == "running":
            try:
                step = self.services.rollouts.advance_rollout(
                    retrain.model, now=now, policy=facts.policy, reads=facts.reads
                )
            except Conflict as exc:
                return None, Decision(retrain.model, "busy", exc.message, retrain.id)
            deployment = deployments.get(self.stores.db, deployment.id)
            if deployment.status == "running":
                why = "; ".join(step.reasons) or "in progress"
                return None, Decision(
                    retrain.model,
                    "rollout",
                    f"{step.action}: {why}",
                    retrain.id,
                    {"weight": deployment.candidate_weight},
                )
        return self._ended(retrain, deployment, now)

    def _ended(
        self, retrain: Retrain, deployment: Deployment, now: datetime
    ) -> tuple[Retrain, Decision]:
        state = {"completed": "promoted", "promoted": "promoted"}.get(
            deployment.status, deployment.status
        )
        reason = deployment.reason or deployment.status
        if deployment.analysis:
            last = deployment.analysis[-1]
            reason = "; ".join(last.get("reasons") or []) or reason
        moved = self._move(retrain, state, reason, now, deployment_id=deployment.id, outcome=reason)
        return moved, Decision(
            retrain.model, state, f"v{retrain.candidate_version}: {reason}", retrain.id
        )


def _selection(outputs: dict[str, Any]) -> dict[str, Any]:
    """The training setup the run chose, for the retrain's record (nothing when it did not)."""
    chosen = (outputs.get("setup") or {}).get("selection")
    return {"selection": chosen} if chosen else {}


def _cause(error: KeelError) -> str:
    """What failed, without the SDK's resume hint (a retrain is resumed by the autopilot)."""
    if isinstance(error, PipelineFailed):
        return f"step {error.step!r} of run {error.run_id} failed: {error.error}"
    return error.message
