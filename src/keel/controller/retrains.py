"""Retrains in the store: one row each, moved through its states one committed step at a time.

    queued -> training -> deploying -> rolling_out -> promoted | rolled_back | stopped
                       \\-> rejected (the gates said no)          failed, abandoned
                       \\-> held (no labelled row the champion has not seen)

A retrain "in flight" holds its model's name in ``active_model`` (unique), so the store itself
refuses a second concurrent retrain of a model. A controller works on a retrain only while it
holds its lease. The process holding it renews it with a heartbeat every few seconds
(``keel.controller.heartbeat``): each beat stamps ``heartbeat_at`` and moves ``lease_until`` to
one lease length (by default three heartbeats, 15 s) past it. A controller that was killed stops
beating, so its lease lapses within that length, and the next one takes the retrain over from the
state it was left in (audited as ``retrain.takeover``, naming the previous holder and its last
heartbeat). A lease whose heartbeat is older than the lease length is stale even if its
``lease_until`` says otherwise (written by an older Keel, or with a longer lease).
"""

from __future__ import annotations

import socket
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa

from keel.errors import Conflict, NotFound, StoreConflict
from keel.registry import audit
from keel.registry.clock import utcnow
from keel.store.database import Database
from keel.store.schema import retrains
from keel.store.version_links import version_id

__all__ = ["ENDED", "Retrain", "beat", "controller_id", "stale", "take_lease"]

ENDED = (
    "rejected",
    "held",
    "promoted",
    "completed",
    "rolled_back",
    "stopped",
    "failed",
    "abandoned",
)
STATES = ("queued", "training", "deploying", "rolling_out", *ENDED)


def controller_id() -> str:
    """Who holds a lease: this host and process, plus a nonce for several in one process."""
    import os

    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"


@dataclass(frozen=True)
class Retrain:
    id: int
    model: str
    trigger: str
    reason: str
    state: str
    pipeline_run_id: str | None
    candidate_version: int | None
    deployment_id: int | None
    outcome: str | None
    details: dict[str, Any]
    requested_by: str
    created_at: datetime
    updated_at: datetime
    ended_at: datetime | None
    #: who holds the lease (``host:pid:nonce``), until when, and its newest heartbeat
    lease_owner: str | None = field(default=None, compare=False)
    lease_until: datetime | None = field(default=None, compare=False)
    heartbeat_at: datetime | None = field(default=None, compare=False)

    @property
    def active(self) -> bool:
        return self.state not in ENDED

    def to_dict(self) -> dict[str, Any]:
        out = self.__dict__.copy()
        for key in ("created_at", "updated_at", "ended_at", "lease_until", "heartbeat_at"):
            out[key] = out[key].isoformat() if out[key] else None
        return out


def _row(row: sa.Row[Any]) -> Retrain:
    return Retrain(
        id=row.id,
        model=row.model,
        trigger=row.trigger,
        reason=row.reason,
        state=row.state,
        pipeline_run_id=row.pipeline_run_id,
        candidate_version=row.candidate_version,
        deployment_id=row.deployment_id,
        outcome=row.outcome,
        details=dict(row.details),
        requested_by=row.requested_by,
        created_at=row.created_at,
        updated_at=row.updated_at,
        ended_at=row.ended_at,
        lease_owner=row.lease_owner,
        lease_until=row.lease_until,
        heartbeat_at=row.heartbeat_at,
    )


def request(
    db: Database,
    actor: str,
    model: str,
    *,
    trigger: str,
    reason: str,
    now: datetime,
    details: dict[str, Any] | None = None,
) -> Retrain:
    """Queue a retrain; Conflict when one is already in flight for ``model``."""
    try:
        with db.write() as conn:
            key = conn.execute(
                retrains.insert().values(
                    model=model,
                    active_model=model,
                    trigger=trigger,
                    reason=reason,
                    state="queued",
                    details=details or {},
                    **_links(conn, model, {"details": details or {}}),
                    requested_by=actor,
                    created_at=now,
                    updated_at=utcnow(),
                )
            ).inserted_primary_key
            assert key is not None
            new_id = key[0]
            audit.append(
                conn,
                actor,
                "retrain.request",
                model,
                {"retrain": new_id, "trigger": trigger, "reason": reason, **(details or {})},
            )
            row = conn.execute(sa.select(retrains).where(retrains.c.id == new_id)).one()
    except StoreConflict as exc:
        current = active(db, model)
        raise Conflict(
            f"a retrain of {model} is already in flight"
            + (f" (#{current.id}, {current.state})" if current else ""),
            model=model,
        ) from exc
    return _row(row)


def active(db: Database, model: str) -> Retrain | None:
    with db.read() as conn:
        row = conn.execute(sa.select(retrains).where(retrains.c.active_model == model)).first()
    return _row(row) if row is not None else None


def get(db: Database, retrain_id: int) -> Retrain:
    with db.read() as conn:
        row = conn.execute(sa.select(retrains).where(retrains.c.id == retrain_id)).first()
    if row is None:
        raise NotFound("retrain", str(retrain_id))
    return _row(row)


def history(db: Database, model: str | None = None, limit: int = 50) -> list[Retrain]:
    query = sa.select(retrains).order_by(retrains.c.id.desc()).limit(limit)
    if model is not None:
        query = query.where(retrains.c.model == model)
    with db.read() as conn:
        return [_row(r) for r in conn.execute(query)]


def last(db: Database, model: str) -> Retrain | None:
    found = history(db, model, limit=1)
    return found[0] if found else None


def started_since(db: Database, model: str, since: datetime) -> int:
    with db.read() as conn:
        return int(
            conn.execute(
                sa.select(sa.func.count())
                .select_from(retrains)
                .where(retrains.c.model == model, retrains.c.created_at > since)
            ).scalar_one()
        )


def stale(retrain: Retrain, lease: timedelta, now: datetime) -> bool:
    """Whether ``retrain``'s lease may be taken by another process at ``now``: nobody holds it,
    it ran out, or its holder's newest heartbeat is older than ``lease``."""
    if retrain.lease_owner is None or retrain.lease_until is None:
        return True
    if retrain.lease_until < now:
        return True
    return retrain.heartbeat_at is not None and retrain.heartbeat_at < now - lease


def take_lease(
    db: Database,
    retrain_id: int,
    owner: str,
    lease: timedelta,
    *,
    now: datetime | None = None,
    actor: str = "keel-controller",
) -> bool:
    """Hold the retrain until ``lease`` after ``now`` (the registry's clock by default), with a
    first heartbeat; False when another process holds it with a live heartbeat. Taking it from
    another (stale) holder is audited as ``retrain.takeover``."""
    wall = now or utcnow()
    with db.write() as conn:  # the row is locked (SQLite: the whole store) until the commit
        row = conn.execute(
            sa.select(retrains).where(retrains.c.id == retrain_id).with_for_update()
        ).first()
        if row is None or row.active_model is None:
            return False
        current = _row(row)
        if current.lease_owner != owner and not stale(current, lease, wall):
            return False
        conn.execute(
            retrains.update()
            .where(retrains.c.id == retrain_id)
            .values(lease_owner=owner, lease_until=wall + lease, heartbeat_at=wall)
        )
        if current.lease_owner not in (None, owner):
            audit.append(
                conn,
                actor,
                "retrain.takeover",
                current.model,
                {
                    "retrain": current.id,
                    "state": current.state,
                    "from": current.lease_owner,
                    "to": owner,
                    "heartbeat_at": _iso(current.heartbeat_at),
                    "lease_until": _iso(current.lease_until),
                },
            )
    return True


def _iso(moment: datetime | None) -> str | None:
    return None if moment is None else moment.isoformat()


def beat(
    db: Database, retrain_id: int, owner: str, lease: timedelta, *, now: datetime | None = None
) -> bool:
    """One heartbeat: stamp ``heartbeat_at`` and extend the lease to ``lease`` past it, if
    ``owner`` still holds the retrain; False when it does not (taken over, or ended)."""
    wall = now or utcnow()
    with db.write() as conn:
        renewed = conn.execute(
            retrains.update()
            .where(
                retrains.c.id == retrain_id,
                retrains.c.lease_owner == owner,
                retrains.c.active_model.is_not(None),
            )
            .values(heartbeat_at=wall, lease_until=wall + lease)
        ).rowcount
    return bool(renewed)


def release_lease(db: Database, retrain_id: int, owner: str) -> None:
    with db.write() as conn:
        conn.execute(
            retrains.update()
            .where(retrains.c.id == retrain_id, retrains.c.lease_owner == owner)
            .values(lease_owner=None, lease_until=None)
        )


def keep_details(db: Database, retrain: Retrain, owner: str, details: dict[str, Any]) -> None:
    """Record what this controller learnt (a failed attempt) without moving the retrain."""
    with db.write() as conn:
        kept = _update_if_held(conn, retrain, owner, details=details, updated_at=utcnow())
    if not kept:
        raise Conflict(
            f"retrain #{retrain.id} of {retrain.model} was moved by another controller",
            retrain=retrain.id,
        )


def _update_if_held(conn: sa.Connection, retrain: Retrain, owner: str, **values: Any) -> int:
    """Update the retrain's row if it is still in the state we read and ``owner`` holds its
    lease; the number of rows changed (0: another controller moved it)."""
    return int(
        conn.execute(
            retrains.update()
            .where(
                retrains.c.id == retrain.id,
                retrains.c.state == retrain.state,
                retrains.c.lease_owner == owner,
            )
            .values(**values, **_links(conn, retrain.model, values))
        ).rowcount
    )


def _links(conn: sa.Connection, model: str, values: dict[str, Any]) -> dict[str, Any]:
    """The version links of what ``values`` writes: the candidate's when it sets the
    candidate, the champion's when its details name the champion the retrain started from."""
    links: dict[str, Any] = {}
    if "candidate_version" in values:
        links["candidate_version_id"] = version_id(conn, model, values["candidate_version"])
    champion = (values.get("details") or {}).get("champion")
    if isinstance(champion, int) and not isinstance(champion, bool):
        links["champion_version_id"] = version_id(conn, model, champion)
    return links


def move(
    db: Database,
    actor: str,
    retrain: Retrain,
    owner: str,
    state: str,
    *,
    reason: str,
    now: datetime,
    **values: Any,
) -> Retrain:
    """Move the retrain to ``state`` (with ``values``) and audit why, if this controller still
    holds it and nobody moved it meanwhile; Conflict otherwise."""
    assert state in STATES, state
    changes: dict[str, Any] = {"state": state, "updated_at": utcnow(), **values}
    if state in ENDED:
        changes.update(active_model=None, ended_at=now, lease_owner=None, lease_until=None)
    with db.write() as conn:
        moved = _update_if_held(conn, retrain, owner, **changes)
        if not moved:
            raise Conflict(
                f"retrain #{retrain.id} of {retrain.model} was moved by another controller",
                retrain=retrain.id,
            )
        audit.append(
            conn,
            actor,
            f"retrain.{state}",
            retrain.model,
            {
                "retrain": retrain.id,
                "from": retrain.state,
                "reason": reason,
                **{k: v for k, v in values.items() if k != "details"},
            },
        )
        row = conn.execute(sa.select(retrains).where(retrains.c.id == retrain.id)).one()
    return _row(row)
