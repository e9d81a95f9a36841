"""The moves of a deployment that people (and the controller) make: deploy, promote, roll back.

A deployment needs two writes that the store cannot make in one transaction: the deployment
record (``keel.registry.deployments``) and the ``champion`` alias (``keel.registry.aliases``,
which guards champion moves with the model's policy in a transaction of its own). They are
ordered so that every crash or race leaves a state the controller can finish or undo:

- promoting moves the alias first, then marks the deployment promoted. A crash in between
  leaves a running deployment whose candidate is already champion; the controller's next step
  sees that and marks it promoted. If someone rolled the deployment back in between, the
  promoter finds it no longer running and puts the stable version back;
- rolling back a running deployment marks it rolled back (all traffic to the stable version at
  once, since serving follows the record) and, if a promotion had already moved the alias, puts
  the stable version back as champion;
- with no running deployment, rolling back moves ``champion`` to the version that held it
  before the current one, from the alias history.

A staged deployment (canary, A/B) ends by promoting its candidate, so ``deploy`` checks up front
that the policy would let the candidate become champion: a GateFailed now is better than one
after the last step. The rule is ``keel.registry.promotion``'s. When the candidate's blessing
compared it with another champion than the current one and the policy's gates compare with the
champion, ``deploy`` and ``promote`` run the gates again against the current champion first
(``refresh_blessing``; it needs the artifact store to load both models, and without one they
refuse with the ``keel gate`` command instead). Restoring a previous champion is always allowed
(it is forced past the policy with the rollback's reason, audited as an override when the policy
would have refused).

Example (a store with a blessed version 2 of ``fraud`` whose champion is version 1)::

    deploy(db, "ann", "fraud", 2, strategy="canary", steps=[5, 25, 50, 100], interval_s=600)
    rollback(db, "ann", "fraud", reason="p99 latency doubled")
"""

from __future__ import annotations

import dataclasses
import logging
from datetime import datetime
from typing import Any

from keel.domain.deployments import STRATEGIES, Deployment, Status
from keel.domain.names import CHAMPION, validate_name, validate_version
from keel.domain.policy import Policy, Rollout
from keel.errors import Conflict, InvalidInput, KeelError, NotFound
from keel.registry import aliases, deployments, governance
from keel.registry.models import model_id_of
from keel.rollout.blessing import (
    check_promotable,
    promotion_problems,
    refresh_blessing,
)
from keel.rollout.limits import Limits
from keel.rollout.results import Rollback
from keel.store.artifacts import ArtifactStore
from keel.store.database import Database
from keel.store.prediction_log import LogStore

__all__ = [
    "CHAMPION",
    "check_promotable",
    "deploy",
    "deploy_with_policy",
    "finish",
    "promote",
    "promotion_problems",
    "refresh_blessing",
    "rollback",
]

log = logging.getLogger(__name__)

_STAGED = ("canary", "ab", "replace")


#: how a champion move made by a rollback begins its reason (the trigger that averages recent
#: champions leaves out a version rolled back this way)
ROLLBACK_REASON = "rollback: "


def start_entry(log_position: str, now: datetime | None) -> dict[str, Any]:
    """The analysis entry that opens a deployment: where the prediction log stood, so its steps
    read the parts written after it (part names carry the writer's clock, not the caller's)."""
    from keel.registry.clock import utcnow

    return {"event": "start", "at": (now or utcnow()).isoformat(), "position": log_position}


def deploy(
    db: Database,
    actor: str,
    model: str,
    version: int,
    *,
    strategy: str,
    steps: list[float] | None = None,
    interval_s: float = 600.0,
    sticky: bool = False,
    limits: dict[str, Any] | None = None,
    reason: str = "",
    force: bool = False,
    now: datetime | None = None,
    log_position: str | None = None,
    artifacts: ArtifactStore | None = None,
) -> Deployment:
    """Start deploying ``model/version``; returns the deployment record.

    ``replace`` moves the champion at once and the record comes back ``completed``; ``canary``,
    ``ab`` and ``shadow`` come back ``running`` for the controller to analyse. ``limits``
    override the policy's rollout limits for this deployment (see ``keel.rollout.limits``).
    ``force`` (with a reason) lets a ``replace`` pass a policy that would refuse the version.
    With ``artifacts``, a blessing earned against another champion is earned again first.
    The checks follow the stored policy, read here once: the one in force now (a pass that
    trained for minutes may have started under another), and never one a caller hands over.
    """
    validate_name(model, "model")
    number = validate_version(version)
    if strategy not in STRATEGIES:
        raise InvalidInput("strategy", f"{strategy!r} is not one of {', '.join(STRATEGIES)}")
    if force and strategy != "replace":
        raise InvalidInput(
            "force", "only a replace may be forced past the policy; a staged rollout promotes"
        )
    if force and not reason.strip():
        raise InvalidInput("reason", "forcing a deployment past the policy needs a reason")
    policy = governance.get_policy(db, model) or Policy()
    frozen = Limits.resolve(policy.rollout, limits).to_dict()
    if strategy in _STAGED and not force:
        refresh_blessing(db, artifacts, actor, model, number, policy)
        check_promotable(db, model, number, policy)
    if strategy != "replace":
        with db.read() as conn:
            if deployments.champion_in(conn, model) is None:
                raise Conflict(
                    f"{model} has no champion to compare {model}/{number} with; "
                    "deploy it with --strategy replace first",
                    model=model,
                )
    compared = _baselines(db, model, number)
    started = deployments.start(
        db,
        actor,
        model,
        number,
        baselines=compared,
        strategy=strategy,
        steps=steps,
        interval_s=interval_s,
        sticky=sticky,
        limits=frozen,
        reason=reason,
        now=now,
        analysis=None if log_position is None else [start_entry(log_position, now)],
    )
    if strategy != "replace":
        return dataclasses.replace(started, baselines=compared)
    try:
        done = finish(
            db, actor, started, reason=reason, force=force, now=now, artifacts=artifacts,
            policy=policy,
        )  # fmt: skip
        return dataclasses.replace(done, baselines=compared)
    except KeelError as exc:  # the champion did not move: nothing else will finish it
        _stop_after_failure(db, actor, started, exc)
        raise


def _baselines(db: Database, model: str, version: int) -> dict[str, Any]:
    """How the version compares with the naive baselines (recorded under every profile), with
    a warning when it does not beat them or was never evaluated."""
    from keel.evaluation.baseline_comparison import compare_version

    compared = compare_version(db, model, version)
    if not compared.beats:
        log.warning("deploying %s/%s: %s", model, version, compared.summary())
    return compared.to_dict()


def deploy_with_policy(
    db: Database,
    actor: str,
    model: str,
    version: int,
    *,
    strategy: str | None = None,
    steps: list[float] | None = None,
    interval: str | float | None = None,
    sticky: bool | None = None,
    limits: dict[str, Any] | None = None,
    reason: str = "",
    force: bool = False,
    now: datetime | None = None,
    logs: LogStore | None = None,
    artifacts: ArtifactStore | None = None,
    policy: Policy | None = None,
) -> Deployment:
    """``deploy`` with what is not given taken from the stored policy's rollout section (or
    from ``policy``, the one the caller read for its pass): its
    strategy, its steps (when the strategy is the policy's), its interval (a duration such as
    ``"10m"``, or seconds) and stickiness (A/B tests are sticky unless told otherwise); with
    ``logs``, the prediction log's position is recorded, so the analysis reads only the rows
    served after the deployment started. Every door (SDK, CLI, HTTP) deploys through here."""
    from keel.domain.durations import parse_duration
    from keel.rollout.window import log_position

    if policy is None:
        policy = governance.get_policy(db, model) or Policy()
    rollout: Rollout = policy.rollout
    chosen = strategy or rollout.strategy
    if steps is None and chosen == rollout.strategy:
        steps = list(rollout.steps)
    seconds = parse_duration(interval if interval is not None else rollout.interval, "interval")
    return deploy(
        db,
        actor,
        model,
        version,
        strategy=chosen,
        steps=steps,
        interval_s=seconds.total_seconds(),
        sticky=sticky if sticky is not None else (rollout.sticky or chosen == "ab"),
        limits=limits,
        reason=reason,
        force=force,
        now=now,
        log_position=None if logs is None else log_position(logs, model),
        artifacts=artifacts,
    )


def promote(
    db: Database,
    actor: str,
    deployment: Deployment,
    *,
    reason: str,
    analysis: dict[str, Any] | None = None,
    now: datetime | None = None,
    force: bool = False,
    artifacts: ArtifactStore | None = None,
) -> Deployment:
    """Make the candidate champion and mark the deployment ``promoted`` (see the module notes
    on ordering); ``force`` moves it past the policy's gates (audited as an override).
    With ``artifacts``, a blessing earned against another champion is earned again first.
    GateFailed leaves the deployment running and the champion unchanged; Conflict means
    another process finished the deployment first."""
    return finish(
        db,
        actor,
        deployment,
        reason=reason,
        analysis=analysis,
        now=now,
        force=force,
        status="promoted",
        action="deployment.promote",
        artifacts=artifacts,
    )


def finish(
    db: Database,
    actor: str,
    deployment: Deployment,
    *,
    reason: str,
    analysis: dict[str, Any] | None = None,
    now: datetime | None = None,
    force: bool = False,
    status: Status = "completed",
    action: str = "deployment.complete",
    artifacts: ArtifactStore | None = None,
    policy: Policy | None = None,
) -> Deployment:
    """Move ``champion`` to the candidate, then end the deployment with ``status``. A refused
    alias move (GateFailed, Conflict) leaves the deployment running for the caller to handle.
    Unless forced, a stale blessing is earned again first (``refresh_blessing``, under
    ``policy``: the stored policy ``deploy`` has just read, else read here). The alias move
    checks the stored policy again inside its own transaction: a policy changed meanwhile is
    never bypassed."""
    model, candidate = deployment.model, deployment.candidate_version
    if not force:
        refresh_blessing(db, artifacts, actor, model, candidate, policy)
    why = f"deployment #{deployment.id} ({deployment.strategy}): {reason}".rstrip(": ")
    aliases.set_alias(db, actor, model, CHAMPION, candidate, why, force=force)
    try:
        with db.write() as conn:
            return deployments.move_in(
                conn,
                actor,
                deployment,
                action=action,
                status=status,
                analysis=analysis,
                reason=reason,
                now=now,
            )
    except Conflict:
        _undo_if_ended_otherwise(db, actor, deployment)
        raise


def _stop_after_failure(db: Database, actor: str, deployment: Deployment, exc: KeelError) -> None:
    try:
        with db.write() as conn:
            deployments.move_in(
                conn,
                actor,
                deployment,
                action="deployment.stop",
                status="stopped",
                reason=f"the champion could not move: {exc.message}",
            )
    except Conflict:
        pass  # someone else ended it first; the original error is what the caller needs


def _undo_if_ended_otherwise(db: Database, actor: str, deployment: Deployment) -> None:
    """After a lost race: if the deployment ended as anything but a promotion while we moved the
    alias, the stable version must serve again."""
    ended = deployments.get(db, deployment.id)
    if ended.status in ("promoted", "completed") or deployment.stable_version is None:
        return
    with db.read() as conn:
        champion = deployments.champion_in(conn, deployment.model)
    if champion == deployment.candidate_version:
        aliases.set_alias(
            db,
            actor,
            deployment.model,
            CHAMPION,
            deployment.stable_version,
            f"deployment #{deployment.id} was {ended.status} while it was being promoted",
            force=True,
        )


def rollback(
    db: Database, actor: str, model: str, *, reason: str, now: datetime | None = None
) -> Rollback:
    """Send all of ``model``'s traffic back to where it was, in one step.

    A running deployment is marked ``rolled_back`` (its stable version serves everything at
    once); with none, ``champion`` moves back to the version that held it before the current
    one. NotFound when the model has no champion; Conflict when there is no earlier champion.
    """
    from keel.rollout.notices import announce

    validate_name(model, "model")
    if not reason or not reason.strip():
        raise InvalidInput("reason", "say why you roll back; it goes to the audit trail")
    with db.write() as conn:
        model_id_of(conn, model)  # NotFound for an unknown model
        running = deployments.running_in(conn, model, lock=True)
        champion = deployments.champion_in(conn, model)
        if running is not None:
            ended = deployments.move_in(
                conn,
                actor,
                running,
                action="deployment.rollback",
                status="rolled_back",
                analysis={"decision": "rollback", "reasons": [reason], "by": actor},
                reason=reason,
                now=now,
            )
            announce(conn, "deployment.rollback", running, actor=actor, reasons=[reason])
    if running is not None:
        restored = running.stable_version
        if champion == running.candidate_version and restored is not None:
            aliases.set_alias(
                db, actor, model, CHAMPION, restored, f"{ROLLBACK_REASON}{reason}", force=True
            )
        serving = restored if restored is not None else champion
        return Rollback(model, "deployment_rolled_back", serving, reason, deployment=ended)
    return _restore_previous_champion(db, actor, model, champion, reason)


def _restore_previous_champion(
    db: Database, actor: str, model: str, champion: int | None, reason: str
) -> Rollback:
    if champion is None:
        raise NotFound("alias", f"{model}@{CHAMPION}", hint=f"{model} has no champion to roll back")
    moves = [m for m in aliases.history(db, model, CHAMPION) if m.version is not None]
    previous = next((m.previous_version for m in reversed(moves) if m.version == champion), None)
    if previous is None:
        raise Conflict(
            f"{model}/{champion} is the first champion of {model} and nothing is being deployed; "
            "there is nothing to roll back to",
            model=model,
            champion=champion,
        )
    aliases.set_alias(
        db, actor, model, CHAMPION, previous, f"{ROLLBACK_REASON}{reason}", force=True
    )
    return Rollback(model, "champion_restored", previous, reason, replaced=champion)
