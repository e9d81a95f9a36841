"""The autopilot's verdicts on whether to retrain, kept: why a window did not retrain is as much
a question as why one did (``keel retrains MODEL --all-decisions``).

Each pass over a model with no retrain in flight ends in one verdict: ``idle`` (no trigger fired,
or no champion), ``hold`` (a trigger fired and a guard held it back), ``retrain`` (one started)
or ``busy`` (another controller started one a moment before). A controller polling every minute
would write the same idle verdict sixty times an hour, so a verdict is stored only when it
differs from the model's newest stored one (its champion, action, trigger, reason or numbers
changed), and always when it starts a retrain. A run of identical verdicts is therefore one row,
stamped with the first pass that reached it: read it as "from then on, until the next row".

The row is written in its own short transaction after the verdict took effect. Failing to write
it is logged on ``keel.autopilot`` and does not stop the pass: the record explains the
autopilot, it does not steer it.

>>> _plain({"value": float("nan"), "at": datetime(2026, 1, 1)})
{'value': None, 'at': '2026-01-01 00:00:00'}
"""

from __future__ import annotations

import json
import logging
import math
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from keel.registry.clock import utcnow
from keel.store.schema import retrain_decisions
from keel.store.version_links import version_id

if TYPE_CHECKING:
    from keel.controller.decisions import Decision
    from keel.controller.triggers import Verdict
    from keel.store.database import Database

__all__ = ["RetrainDecision", "decisions", "keep"]

log = logging.getLogger("keel.autopilot")


@dataclass(frozen=True)
class RetrainDecision:
    """One stored verdict: what the autopilot concluded about ``model`` at ``decided_at`` (the
    pass's clock) and why, with the trigger's numbers in ``details``."""

    id: int
    model: str
    champion_version: int | None
    decided_at: datetime
    action: str
    trigger: str | None
    reason: str
    details: dict[str, Any] = field(default_factory=dict)
    retrain: int | None = None
    recorded_at: datetime | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "model": self.model,
            "champion_version": self.champion_version,
            "decided_at": self.decided_at.isoformat(),
            "action": self.action,
            "trigger": self.trigger,
            "reason": self.reason,
            "details": self.details,
            "retrain": self.retrain,
            "recorded_at": self.recorded_at.isoformat() if self.recorded_at else None,
        }


def keep(
    db: Database,
    decision: Decision,
    *,
    champion: int | None,
    verdict: Verdict | None,
    now: datetime,
) -> None:
    """Store the pass's ``decision`` (from ``verdict``, None when there was no champion to
    judge) unless it repeats the model's newest stored one; log, never raise, on failure."""
    trigger = verdict.trigger if verdict is not None else None
    reason = decision.reason
    details: dict[str, Any] = {}
    if verdict is not None:
        details = _plain(verdict.details)
        if decision.action in ("idle", "retrain"):
            reason = verdict.reason
        elif decision.action == "hold":
            reason = f"{verdict.reason}; held by {verdict.hold}"
    try:
        _write(db, decision, champion, trigger, reason, details, now)
    except Exception:  # the record explains the pass; it must not stop it
        log.exception(
            "could not record the autopilot's %s verdict on %s", decision.action, decision.model
        )


def _write(
    db: Database,
    decision: Decision,
    champion: int | None,
    trigger: str | None,
    reason: str,
    details: dict[str, Any],
    now: datetime,
) -> None:
    values = {
        "model": decision.model,
        "champion_version": champion,
        "action": decision.action,
        "trigger": trigger,
        "reason": reason,
        "details": details,
        "retrain_id": decision.retrain,
    }
    with db.write() as conn:
        if decision.retrain is None:
            newest = conn.execute(
                sa.select(retrain_decisions)
                .where(retrain_decisions.c.model == decision.model)
                .order_by(retrain_decisions.c.id.desc())
                .limit(1)
            ).first()
            if newest is not None and _same(newest, values):
                return
        conn.execute(
            retrain_decisions.insert().values(
                **values,
                champion_version_id=version_id(conn, decision.model, champion),
                decided_at=now,
                recorded_at=utcnow(),
            )
        )


def _same(row: sa.Row[Any], values: dict[str, Any]) -> bool:
    """Whether the stored ``row`` says what ``values`` would (a retrain's row never repeats)."""
    return row.retrain_id is None and all(
        getattr(row, key) == value for key, value in values.items() if key != "retrain_id"
    )


def decisions(db: Database, model: str, limit: int) -> list[RetrainDecision]:
    """``model``'s stored verdicts, newest first."""
    query = (
        sa.select(retrain_decisions)
        .where(retrain_decisions.c.model == model)
        .order_by(retrain_decisions.c.id.desc())
        .limit(limit)
    )
    with db.read() as conn:
        return [
            RetrainDecision(
                id=row.id,
                model=row.model,
                champion_version=row.champion_version,
                decided_at=row.decided_at,
                action=row.action,
                trigger=row.trigger,
                reason=row.reason,
                details=dict(row.details or {}),
                retrain=row.retrain_id,
                recorded_at=row.recorded_at,
            )
            for row in conn.execute(query)
        ]


def _plain(details: dict[str, Any]) -> dict[str, Any]:
    """``details`` as the JSON column gives them back (so a repeat compares equal), with NaN
    and infinities as None (PostgreSQL's JSON has no such numbers)."""

    def finite(value: Any) -> Any:
        if isinstance(value, float) and not math.isfinite(value):
            return None
        if isinstance(value, dict):
            return {str(k): finite(v) for k, v in value.items()}
        if isinstance(value, (list, tuple)):
            return [finite(v) for v in value]
        return value

    plain: dict[str, Any] = json.loads(json.dumps(finite(details), default=str))
    return plain
