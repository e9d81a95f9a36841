"""The rollout controller: one reconcile step for a model's running deployment at a time.

``advance`` decides from reads only (``keel.rollout.assessment``) and applies the decision in
one transaction that first locks the deployment and checks it is still where it was analysed,
so two controllers never both move it: the slower one gets Conflict, or, arriving after the
move, analyses the new step. Running it again after a crash is always safe.

A breach rolls back at once: the deployment is marked ``rolled_back`` (all traffic to the stable
version) with the reasons in the audit trail (``deployment.rollback``), a critical alert
``rollout of MODEL/VERSION`` and a ``deployment.rollback`` notification, all in that one
transaction. With the policy's ``auto_rollback`` off the same breach stops the rollout instead
(``stopped``, traffic back to stable, ``deployment.stopped``). Promotion moves ``champion``
through the policy-guarded alias (``keel.rollout.actions.promote``).

A candidate whose own code raises while it is analysed is rolled back the same way, the reason
naming the exception (``keel.rollout.assessment``). ``advance_all`` and ``watch`` go on with the
other models whatever one model's analysis raises (reported as ``error``), and ``status`` reports
a failed analysis instead of raising.

Example, driven by the monitor loop or ``keel rollout watch``::

    advance(db, artifacts, logs, "keel-controller", "fraud", policy)
"""

from __future__ import annotations

import dataclasses
import logging
import math
import time
from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING, Any

from keel.domain.deployments import Deployment, Status
from keel.domain.policy import Policy
from keel.errors import Conflict, GateFailed, InvalidInput, KeelError
from keel.registry import deployments, governance
from keel.rollout import actions
from keel.rollout.assessment import FINAL, Action, Assessment, assess, moment
from keel.rollout.notices import announce, raise_rollout_alert
from keel.rollout.results import DeploymentStatus, NextStep, RolloutStep
from keel.store.artifacts import ArtifactStore
from keel.store.database import Database
from keel.store.prediction_log import LogStore

if TYPE_CHECKING:
    from keel.monitoring.model_reads import ModelReads

__all__ = ["advance", "advance_all", "assess", "status", "watch"]

log = logging.getLogger("keel.rollout")

_ENDS: dict[str, tuple[Status, str]] = {
    "rollback": ("rolled_back", "deployment.rollback"),
    "stop": ("stopped", "deployment.stop"),
    "finish": ("completed", "deployment.complete"),
}


def advance(
    db: Database,
    artifacts: ArtifactStore,
    logs: LogStore,
    actor: str,
    model: str,
    policy: Policy,
    *,
    now: datetime | None = None,
    reads: ModelReads | None = None,
) -> RolloutStep:
    """Take one reconcile step for ``model``'s running deployment; returns what happened.

    Conflict when another process moved the deployment while this one analysed it. ``reads``:
    the caller's labels and references, read once for its whole pass.
    """
    when = moment(now)
    seen = assess(db, artifacts, logs, model, policy, now=when, reads=reads)
    done = RolloutStep(model, seen.action, tuple(seen.reasons), seen.entry, seen.deployment)
    d = seen.deployment
    if d is None or seen.action == "wait":
        return dataclasses.replace(done, deployment_after=d)
    reason = "; ".join(seen.reasons)
    if seen.action in ("promote", "complete"):
        with db.read() as conn:
            _check_unmoved(deployments.running_in(conn, model), d)
        status: Status = "promoted" if seen.action == "promote" else "completed"
        try:
            after = actions.finish(
                db,
                actor,
                d,
                reason=reason,
                analysis={**seen.entry, "decision": seen.action, "reasons": seen.reasons},
                now=when,
                status=status,
                action=f"deployment.{'promote' if status == 'promoted' else 'complete'}",
                artifacts=artifacts,
            )
        except GateFailed as exc:  # the policy changed since the deployment started
            why = [f"the candidate cannot become champion: {exc.message}"]
            after = _end(db, actor, d, "stop", why, seen.entry, when, alert=False)
            done = dataclasses.replace(done, action="stop", reasons=tuple(why))
    else:
        after = _end(db, actor, d, seen.action, seen.reasons, seen.entry, when, seen)
    return dataclasses.replace(done, deployment_after=after)


def _end(
    db: Database,
    actor: str,
    seen: Deployment,
    action: Action,
    reasons: list[str],
    entry: dict[str, Any],
    now: datetime,
    assessment: Assessment | None = None,
    *,
    alert: bool | None = None,
) -> Deployment:
    """Apply a step, a rollback, a stop or a finish in one guarded transaction."""
    raise_alert = assessment.alert if alert is None and assessment is not None else bool(alert)
    reason = "; ".join(reasons)
    with db.write() as conn:
        current = deployments.running_in(conn, seen.model, lock=True)
        _check_unmoved(current, seen)
        record = {**entry, "decision": action, "reasons": reasons}
        if action == "step":
            assert assessment is not None and assessment.next_step is not None
            step = assessment.next_step
            return deployments.move_in(
                conn,
                actor,
                seen,
                action="deployment.step",
                step=step,
                candidate_weight=seen.steps[step],
                analysis=record,
                reason=reason,
                now=now,
            )
        status, audited = _ENDS[action]
        moved = deployments.move_in(
            conn,
            actor,
            seen,
            action=audited,
            status=status,
            analysis=record,
            reason=reason,
            now=now,
        )
        alert_id = None
        if raise_alert:
            alert_id = raise_rollout_alert(
                conn,
                actor,
                seen.model,
                seen.candidate_version,
                message=f"deployment #{seen.id} {status.replace('_', ' ')}: {reason}",
                details={"deployment": seen.id, "reasons": reasons, "step": seen.step},
                now=now,
            )
        if action in ("rollback", "stop"):
            event = "deployment.rollback" if action == "rollback" else "deployment.stopped"
            announce(conn, event, moved, actor=actor, reasons=reasons, alert_id=alert_id)
        return moved


def _check_unmoved(current: Deployment | None, seen: Deployment) -> None:
    if (
        current is None
        or current.id != seen.id
        or current.step != seen.step
        or current.updated_at != seen.updated_at
    ):
        raise Conflict(
            f"deployment #{seen.id} of {seen.model} moved while it was being analysed; "
            "advance again to analyse where it stands now",
            deployment=seen.id,
        )


def status(
    db: Database,
    artifacts: ArtifactStore,
    logs: LogStore,
    model: str,
    policy: Policy,
    *,
    now: datetime | None = None,
) -> DeploymentStatus:
    """The running deployment (if any), the champion, and what ``advance`` would do now and
    why; reads only, nothing moves. An analysis that fails unexpectedly is reported as the next
    action ``error`` with its reason, never raised: status is where a person looks when things
    go wrong."""
    with db.read() as conn:
        champion = deployments.champion_in(conn, model)
    try:
        seen = assess(db, artifacts, logs, model, policy, now=now)
    except KeelError:
        raise
    except Exception as exc:
        log.exception("analysing the rollout of %s failed", model)
        running = deployments.running(db, model)
        failed = NextStep("error", (_unexpected(exc),))
        return DeploymentStatus(model, champion, running, failed)
    upcoming = NextStep(seen.action, tuple(seen.reasons), seen.entry)
    return DeploymentStatus(model, champion, seen.deployment, upcoming)


def advance_all(
    db: Database,
    artifacts: ArtifactStore,
    logs: LogStore,
    actor: str,
    *,
    now: datetime | None = None,
) -> list[RolloutStep]:
    """``advance`` every model with a running deployment under its stored policy; a model that
    fails reports its error and the others still advance."""
    running = sorted(
        name for name, plan in deployments.serving_plans(db).items() if plan.deployment_id
    )
    return [_advance_safely(db, artifacts, logs, actor, name, now) for name in running]


def _advance_safely(
    db: Database,
    artifacts: ArtifactStore,
    logs: LogStore,
    actor: str,
    model: str,
    now: datetime | None,
) -> RolloutStep:
    try:
        policy = governance.get_policy(db, model) or Policy()
        return advance(db, artifacts, logs, actor, model, policy, now=now)
    except Conflict as exc:
        return RolloutStep(model, "conflict", (exc.message,))
    except KeelError as exc:
        return RolloutStep(model, "error", (exc.message,))
    except Exception as exc:  # one model's trouble must not leave the others' rollouts undone
        log.exception("advancing the rollout of %s failed", model)
        return RolloutStep(model, "error", (_unexpected(exc),))


def _unexpected(exc: Exception) -> str:
    return f"unexpected {type(exc).__name__}: {exc}"


def watch(
    db: Database,
    artifacts: ArtifactStore,
    logs: LogStore,
    actor: str,
    *,
    model: str | None = None,
    every_s: float = 30.0,
    duration_s: float = 600.0,
    on_result: Callable[[RolloutStep], None] | None = None,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> list[RolloutStep]:
    """Advance every ``every_s`` seconds for at most ``duration_s``; watching one ``model``
    ends as soon as its deployment has finished."""
    if not (every_s > 0 and math.isfinite(every_s)):
        raise InvalidInput("every", "must be a positive number of seconds")
    if not (duration_s > 0 and math.isfinite(duration_s)):
        raise InvalidInput("duration", "must be a positive number of seconds")
    deadline = clock() + duration_s
    results: list[RolloutStep] = []
    while True:
        if model is not None:
            batch = [_advance_safely(db, artifacts, logs, actor, model, None)]
        else:
            batch = advance_all(db, artifacts, logs, actor)
        for result in batch:
            results.append(result)
            if on_result is not None:
                on_result(result)
        if model is not None and batch[0].action in (*FINAL, "error"):
            break
        remaining = deadline - clock()
        if remaining <= 0:
            break
        sleep(min(every_s, remaining))
    return results
