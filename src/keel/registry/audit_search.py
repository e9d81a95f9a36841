"""Searching the audit trail as a person browses it: by model (its own entries and those of its
versions, whichever way the subject names it), action prefix, actor and time, newest first, a
page at a time (``older`` is where the next page starts)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa

from keel.domain.entities import AuditEntry
from keel.errors import InvalidInput
from keel.store.database import Database
from keel.store.schema import audit_log

__all__ = ["AuditPage", "actions", "search"]


@dataclass(frozen=True)
class AuditPage:
    """Up to ``limit`` entries, newest first; ``older``: the ``before`` of the next page (None
    on the last)."""

    entries: list[AuditEntry]
    older: int | None

    def to_dict(self) -> dict[str, Any]:
        return {"entries": [e.to_dict() for e in self.entries], "older": self.older}


def search(
    db: Database,
    *,
    model: str | None = None,
    action: str | None = None,
    actor: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    before_seq: int | None = None,
    limit: int = 200,
) -> AuditPage:
    """Entries matching every filter given; ``action`` is a prefix (``gate.``)."""
    if since is not None and until is not None and since > until:
        raise InvalidInput("since", "must not be after until")
    c = audit_log.c
    query = sa.select(audit_log)
    if model:
        query = query.where(
            sa.or_(
                c.subject == f"model:{model}",
                c.subject.startswith(f"model:{model}/", autoescape=True),
                c.subject == model,
                c.subject.startswith(f"{model}/", autoescape=True),
            )
        )
    if action:
        query = query.where(c.action.startswith(action, autoescape=True))
    if actor:
        query = query.where(c.actor == actor)
    if since is not None:
        query = query.where(c.at >= _stamp(since))
    if until is not None:
        query = query.where(c.at <= _stamp(until))
    if before_seq is not None:
        query = query.where(c.seq < before_seq)
    with db.read() as conn:
        rows = conn.execute(query.order_by(c.seq.desc()).limit(limit + 1)).all()
    entries = [AuditEntry(**row._mapping) for row in rows[:limit]]
    more = len(rows) > limit
    return AuditPage(entries, entries[-1].seq if more and entries else None)


def actions(db: Database) -> list[str]:
    """Every action the trail holds, sorted (what a filter may pick from)."""
    with db.read() as conn:
        return [
            r[0]
            for r in conn.execute(
                sa.select(audit_log.c.action).distinct().order_by(audit_log.c.action)
            )
        ]


def _stamp(moment: datetime) -> str:
    """``moment`` as the log writes its times (UTC ISO text, compared as text)."""
    return moment.astimezone(UTC).isoformat(timespec="microseconds")
