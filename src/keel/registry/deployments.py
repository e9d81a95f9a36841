"""Deployments' desired state: which versions serve each model and in what shares.

The registry only stores and audits the state; serving reads it (``serving_plans``) and applies
it in every worker, rollout decides how it moves. A model has at most one running deployment;
starting, moving, promoting and rolling back are each one transaction with an audit entry
(``deployment.start``, ``deployment.step``, ``deployment.promote``, ``deployment.rollback``,
``deployment.stop``) so "what served when, and why did it change" is answered from the store.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from keel.domain.deployments import (
    Deployment,
    ServingPlan,
    Status,
    validate_steps,
)
from keel.domain.durations import parse_duration
from keel.domain.names import CHAMPION, ModelRef, validate_name, validate_version
from keel.errors import Conflict, NotFound
from keel.registry import audit
from keel.registry.clock import utcnow
from keel.registry.models import model_id_of, resolve_in
from keel.store.database import Database
from keel.store.schema import aliases, deployments, model_versions, models
from keel.store.version_links import version_id


def _row(row: Any) -> Deployment:
    return Deployment(
        id=row.id,
        model=row.model,
        strategy=row.strategy,
        stable_version=row.stable_version,
        candidate_version=row.candidate_version,
        steps=list(row.steps),
        step=row.step,
        candidate_weight=row.candidate_weight,
        interval_s=row.interval_s,
        sticky=bool(row.sticky),
        limits=dict(row.limits),
        status=row.status,
        reason=row.reason,
        analysis=list(row.analysis),
        created_by=row.created_by,
        created_at=row.created_at,
        updated_at=row.updated_at,
        step_started_at=row.step_started_at,
        finished_at=row.finished_at,
    )


def champion_in(conn: Connection, model: str) -> int | None:
    """The champion's version number, or None."""
    return conn.execute(
        sa.select(model_versions.c.version)
        .select_from(aliases.join(model_versions, aliases.c.version_id == model_versions.c.id))
        .join(models, models.c.id == aliases.c.model_id)
        .where(models.c.name == model, aliases.c.alias == CHAMPION)
    ).scalar_one_or_none()


def running_in(conn: Connection, model: str, *, lock: bool = False) -> Deployment | None:
    query = sa.select(deployments).where(
        deployments.c.model == model, deployments.c.status == "running"
    )
    if lock:
        query = query.with_for_update()
    row = conn.execute(query.order_by(deployments.c.id.desc()).limit(1)).first()
    return None if row is None else _row(row)


def start(
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
    now: datetime | None = None,
    analysis: list[dict[str, Any]] | None = None,
    baselines: dict[str, Any] | None = None,
) -> Deployment:
    """Record a new running deployment of ``version`` against the current champion (``now``
    is when its first step starts: a controller replaying simulated time passes its clock).
    ``baselines`` (how the version compares with the naive baselines) goes to the audit entry.

    ``replace`` is recorded as running at 100% too; rollout completes it (moves the champion).
    Conflict when the model already has a running deployment or the version is the champion.
    """
    validate_name(model, "model")
    number = validate_version(version)
    shares = validate_steps(strategy, steps)
    interval_s = parse_duration(interval_s, "interval").total_seconds()  # the policy's rule
    with db.write() as conn:
        model_id = model_id_of(conn, model)
        conn.execute(sa.select(models.c.id).where(models.c.id == model_id).with_for_update())
        candidate = resolve_in(conn, ModelRef(model, version=number))
        if candidate.status != "ready":
            raise Conflict(f"{candidate.ref} is {candidate.status} and cannot be deployed")
        existing = running_in(conn, model)
        if existing is not None:
            raise Conflict(
                f"{model} already has a running {existing.strategy} deployment "
                f"(#{existing.id} of version {existing.candidate_version}); finish or stop it",
                deployment=existing.id,
            )
        stable = champion_in(conn, model)
        if stable == number:
            raise Conflict(f"{candidate.ref} is already the champion of {model}")
        now = now or utcnow()
        weight = 100.0 if strategy == "shadow" else shares[0]
        new_id = conn.execute(
            deployments.insert().values(
                model=model,
                strategy=strategy,
                stable_version=stable,
                candidate_version=number,
                stable_version_id=version_id(conn, model, stable),
                candidate_version_id=version_id(conn, model, number),
                steps=shares,
                step=0,
                candidate_weight=weight,
                interval_s=float(interval_s),
                sticky=bool(sticky),
                limits=dict(limits or {}),
                status="running",
                reason=reason,
                analysis=list(analysis or []),
                created_by=actor,
                created_at=now,
                updated_at=now,
                step_started_at=now,
            )
        ).inserted_primary_key
        assert new_id is not None
        audit.append(
            conn,
            actor,
            "deployment.start",
            f"model:{model}/{number}",
            {
                "deployment": int(new_id[0]),
                "strategy": strategy,
                "steps": shares,
                "stable": stable,
                "candidate_weight": weight,
                "reason": reason,
                **({"baselines": baselines} if baselines is not None else {}),
            },
        )
        return get_in(conn, int(new_id[0]))


def get_in(conn: Connection, deployment_id: int) -> Deployment:
    row = conn.execute(sa.select(deployments).where(deployments.c.id == deployment_id)).first()
    if row is None:
        raise NotFound("deployment", str(deployment_id))
    return _row(row)


def get(db: Database, deployment_id: int) -> Deployment:
    with db.read() as conn:
        return get_in(conn, deployment_id)


def running(db: Database, model: str) -> Deployment | None:
    with db.read() as conn:
        return running_in(conn, model)


def history(db: Database, model: str, limit: int = 50) -> list[Deployment]:
    """Deployments of ``model``, newest first."""
    validate_name(model, "model")
    with db.read() as conn:
        rows = conn.execute(
            sa.select(deployments)
            .where(deployments.c.model == model)
            .order_by(deployments.c.id.desc())
            .limit(limit)
        ).all()
    return [_row(r) for r in rows]


def all_running(db: Database) -> list[Deployment]:
    """The running deployment of every model, in one query."""
    with db.read() as conn:
        rows = conn.execute(sa.select(deployments).where(deployments.c.status == "running")).all()
    return [_row(r) for r in rows]


def of_version(db: Database, model: str, version: int, limit: int = 50) -> list[Deployment]:
    """Deployments of ``model`` in which ``version`` was the candidate or the stable version,
    newest first."""
    c = deployments.c
    query = (
        sa.select(deployments)
        .where(
            c.model == validate_name(model, "model"),
            sa.or_(c.candidate_version == version, c.stable_version == version),
        )
        .order_by(c.id.desc())
        .limit(limit)
    )
    with db.read() as conn:
        return [_row(r) for r in conn.execute(query)]


def move_in(
    conn: Connection,
    actor: str,
    deployment: Deployment,
    *,
    action: str,
    status: Status | None = None,
    step: int | None = None,
    candidate_weight: float | None = None,
    analysis: dict[str, Any] | None = None,
    reason: str = "",
    now: datetime | None = None,
) -> Deployment:
    """Change a running deployment inside the caller's transaction, audited as ``action``
    (``deployment.step``, ``deployment.promote``, ``deployment.rollback``, ...).

    Conflict when the deployment is no longer running (another process finished it first).
    """
    moment = now or utcnow()
    values: dict[str, Any] = {"updated_at": moment}
    if status is not None:
        values["status"] = status
        if status != "running":
            values["finished_at"] = moment
    if step is not None:
        values["step"] = step
        values["step_started_at"] = moment
    if candidate_weight is not None:
        values["candidate_weight"] = float(candidate_weight)
    if analysis is not None:
        values["analysis"] = [*deployment.analysis, analysis]
    moved = conn.execute(
        deployments.update()
        .where(deployments.c.id == deployment.id, deployments.c.status == "running")
        .values(**values)
    ).rowcount
    if moved != 1:
        raise Conflict(
            f"deployment #{deployment.id} is no longer running", deployment=deployment.id
        )
    audit.append(
        conn,
        actor,
        action,
        f"model:{deployment.model}/{deployment.candidate_version}",
        {
            "deployment": deployment.id,
            "status": status or deployment.status,
            "step": step if step is not None else deployment.step,
            "candidate_weight": candidate_weight
            if candidate_weight is not None
            else deployment.candidate_weight,
            "reason": reason,
        },
    )
    return get_in(conn, deployment.id)


def serving_stamp(db: Database) -> tuple[Any, ...]:
    """Changes whenever what serves may have changed: the newest alias or deployment change.

    Serving workers poll this (two indexed aggregates) and rebuild their plans only when it moves.
    """
    with db.read() as conn:
        return tuple(
            conn.execute(
                sa.select(
                    sa.select(sa.func.max(aliases.c.updated_at)).scalar_subquery(),
                    sa.select(sa.func.count()).select_from(aliases).scalar_subquery(),
                    sa.select(sa.func.max(deployments.c.updated_at)).scalar_subquery(),
                    sa.select(sa.func.count()).select_from(deployments).scalar_subquery(),
                )
            ).one()
        )


def serving_plans(db: Database) -> dict[str, ServingPlan]:
    """How every model with a champion or a running deployment is served right now."""
    with db.read() as conn:
        champions = dict(
            conn.execute(
                sa.select(models.c.name, model_versions.c.version)
                .select_from(
                    aliases.join(model_versions, aliases.c.version_id == model_versions.c.id)
                )
                .join(models, models.c.id == aliases.c.model_id)
                .where(aliases.c.alias == CHAMPION)
            ).all()
        )
        active = [
            _row(r)
            for r in conn.execute(
                sa.select(deployments).where(deployments.c.status == "running")
            ).all()
        ]
    plans = {name: ServingPlan(name, version) for name, version in champions.items()}
    for deployment in active:
        plans[deployment.model] = ServingPlan(
            model=deployment.model,
            stable=champions.get(deployment.model),
            candidate=deployment.candidate_version,
            strategy=deployment.strategy,
            candidate_weight=deployment.candidate_weight,
            sticky=deployment.sticky,
            deployment_id=deployment.id,
        )
    return plans
