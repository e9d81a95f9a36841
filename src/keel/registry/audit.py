"""Appending to and checking the hash-chained audit trail.

Every state change is appended in the same transaction as the change itself, so the trail never
claims something that did not happen nor misses something that did. The single ``audit_head`` row
is locked while appending, which serializes writers on PostgreSQL (SQLite serializes by itself).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from keel.domain.audit import (
    AuditRow,
    ChainVerification,
    canonical_json,
    entry_hash,
    verify_chain,
)
from keel.domain.entities import AuditEntry
from keel.registry.clock import utcnow
from keel.store.database import Database, note
from keel.store.schema import audit_head, audit_log

#: the note ``append`` leaves for after the commit: ``(seq, prev_hash, hash)`` of the new head
HEAD_NOTE = "audit_head"


def append(
    conn: Connection, actor: str, action: str, subject: str, details: dict[str, Any] | None = None
) -> AuditEntry:
    """Append one entry inside the caller's write transaction and return it."""
    import json

    clean = json.loads(canonical_json(details or {}))  # exactly what the store will give back
    head = conn.execute(
        sa.select(audit_head.c.seq, audit_head.c.hash).where(audit_head.c.id == 1).with_for_update()
    ).one()
    seq = head.seq + 1
    at = utcnow().isoformat(timespec="microseconds")
    digest = entry_hash(head.hash, seq, at, actor, action, subject, clean)
    conn.execute(
        audit_log.insert().values(
            seq=seq,
            at=at,
            actor=actor,
            action=action,
            subject=subject,
            details=clean,
            prev_hash=head.hash,
            hash=digest,
        )
    )
    conn.execute(audit_head.update().where(audit_head.c.id == 1).values(seq=seq, hash=digest))
    # for the keyed checkpoint written once this transaction has committed (audit_checkpoint)
    note(conn, HEAD_NOTE, (seq, head.hash, digest))
    return AuditEntry(seq, at, actor, action, subject, clean, head.hash, digest)


def entries(
    db: Database,
    *,
    subject: str | None = None,
    action: str | None = None,
    actor: str | None = None,
    since_seq: int | None = None,
    limit: int | None = 100,
    newest_first: bool = True,
) -> list[AuditEntry]:
    """Audit entries, filtered; ``subject`` matches exactly or as a prefix ending in ``/``."""
    query = sa.select(audit_log)
    if subject:
        query = query.where(
            sa.or_(
                audit_log.c.subject == subject,
                # autoescape: "_" in a name is a letter, not LIKE's any-character wildcard
                audit_log.c.subject.startswith(subject + "/", autoescape=True),
            )
        )
    if action:
        query = query.where(audit_log.c.action.startswith(action, autoescape=True))
    if actor:
        query = query.where(audit_log.c.actor == actor)
    if since_seq is not None:
        query = query.where(audit_log.c.seq > since_seq)
    query = query.order_by(audit_log.c.seq.desc() if newest_first else audit_log.c.seq)
    if limit is not None:
        query = query.limit(limit)
    with db.read() as conn:
        return [AuditEntry(**row._mapping) for row in conn.execute(query)]


def verify(db: Database, batch: int = 5000) -> ChainVerification:
    """Walk the whole chain in order and compare its end with the recorded head."""
    with db.read() as conn:
        return verify_in(conn, batch)


def verify_in(
    conn: Connection, batch: int = 5000, observe: Callable[[AuditRow], None] | None = None
) -> ChainVerification:
    """``verify`` inside the caller's read transaction; ``observe`` sees every entry in order,
    also those after a break (replaying the trail needs all of them)."""
    head = conn.execute(sa.select(audit_head.c.seq, audit_head.c.hash)).one()
    source = rows_in(conn, batch)
    if observe is not None:
        source = _observed(source, observe)
    result = verify_chain(source)
    for _ in source:  # the rest after a break, for ``observe``
        pass
    if result.intact and result.checked > head.seq:
        extra = head.seq + 1
        return ChainVerification(
            False,
            head.seq,
            extra,
            f"entries from {extra} on were added behind the chain head (which ends at {head.seq})",
        )
    if result.intact and result.checked < head.seq:
        missing = result.checked + 1
        return ChainVerification(
            False, result.checked, missing, f"entries from {missing} to {head.seq} are missing"
        )
    if result.intact and head.seq and _last_hash(conn) != head.hash:
        return ChainVerification(
            False, result.checked, head.seq, "the last entry does not match the chain head"
        )
    return result


def rows_in(conn: Connection, batch: int = 5000) -> Iterator[AuditRow]:
    """Every entry in seq order, read ``batch`` at a time (the trail grows without bound)."""
    last = 0
    while True:
        chunk = conn.execute(
            sa.select(audit_log)
            .where(audit_log.c.seq > last)
            .order_by(audit_log.c.seq)
            .limit(batch)
        ).all()
        if not chunk:
            return
        for r in chunk:
            yield (r.seq, r.at, r.actor, r.action, r.subject, r.details, r.prev_hash, r.hash)
        last = chunk[-1].seq


def _observed(rows: Iterator[AuditRow], observe: Callable[[AuditRow], None]) -> Iterator[AuditRow]:
    for row in rows:
        observe(row)
        yield row


def _last_hash(conn: Connection) -> str | None:
    return conn.execute(
        sa.select(audit_log.c.hash).order_by(audit_log.c.seq.desc()).limit(1)
    ).scalar()
