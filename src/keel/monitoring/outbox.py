"""The notification outbox: events are queued in the store with the change that caused them and
delivered to sinks afterwards, so a crash never loses one and never sends one that did not happen.

Rows of the ``notifications`` table play two parts:

- an *event* row (``sink = "*"``) is written in the same transaction as the alert change or the
  cursor move that produced it; the writer does not know the sinks. It is ``pending`` until
  ``deliver_pending`` fans it out, then ``dispatched``;
- a *delivery* row (``sink = <sink name>``) is created by the fan-out, one per sink given to that
  call, as a copy of the event whose payload ``delivery`` field is the delivery row's own id. It
  is ``pending`` until the sink accepts it (``sent``) or it has failed ``max_attempts`` times
  (``failed``); ``attempts`` and the last ``error`` are kept either way.

Fan-out and each status change are their own transactions and sending happens outside any, so a
slow webhook never holds a lock. A crash after a send but before it is marked leaves the row
pending and it is sent again: delivery is at least once, and the ``X-Keel-Delivery`` header (the
row id) lets a receiver drop the duplicate. Delivery rows for a sink that is not passed to a call
wait, pending, until a call passes it again. ``deliver_pending`` expects one deliverer at a time
per store (the monitor loop); two at once may both send a row, which the delivery id covers too.
"""

from __future__ import annotations

from collections.abc import Sequence
from fnmatch import fnmatchcase
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from keel.domain.names import validate_name
from keel.errors import InvalidInput
from keel.monitoring.sinks import AlertSink, DeliveryFailed
from keel.registry.clock import utcnow
from keel.registry.models import positive_limit
from keel.store.database import Database, insert_ignore
from keel.store.schema import audit_log, cursors, notifications

__all__ = ["deliver_pending", "enqueue", "list_notifications", "lock_cursor", "route_events"]

#: the ``sink`` of an event row, waiting to be fanned out to the sinks of whoever delivers it
EVERY_SINK = "*"
_SCAN = 1000  # audit entries read per query while routing events


def enqueue(
    conn: Connection, event: str, payload: dict[str, Any], alert_id: int | None = None
) -> int:
    """Queue one event inside the caller's write transaction; returns the event row's id."""
    at = utcnow()
    body = {"event": event, **payload}
    body.setdefault("at", at.isoformat())
    return int(
        conn.execute(
            notifications.insert()
            .values(
                alert_id=alert_id,
                event=event,
                sink=EVERY_SINK,
                status="pending",
                attempts=0,
                error=None,
                payload=body,
                created_at=at,
            )
            .returning(notifications.c.id)
        ).scalar_one()
    )


def lock_cursor(conn: Connection, name: str) -> int:
    """The position of cursor ``name`` (created at 0), locked until the transaction ends.

    Locking the row serializes whoever advances the same cursor on PostgreSQL (SQLite's
    ``BEGIN IMMEDIATE`` already serializes writers)."""
    insert_ignore(conn, cursors, {"name": name, "position": 0, "updated_at": utcnow()}, ["name"])
    return int(
        conn.execute(
            sa.select(cursors.c.position).where(cursors.c.name == name).with_for_update()
        ).scalar_one()
    )


def _move_cursor(conn: Connection, name: str, position: int) -> None:
    conn.execute(
        cursors.update()
        .where(cursors.c.name == name)
        .values(position=position, updated_at=utcnow())
    )


def route_events(db: Database, model: str, patterns: list[str]) -> int:
    """Queue the model's audit entries whose action matches a pattern; returns how many.

    Entries are read above the cursor ``events:{model}`` and the cursor moves past every entry
    read (matched or not) in the same transaction as the queueing, so each entry is routed once
    even across crashes. Subjects ``model:{model}`` and ``model:{model}/N`` belong to the model.
    With no patterns nothing is read and the cursor stays where it is, so events configured later
    start from where routing last stopped.
    """
    validate_name(model, "model")
    if not patterns:
        return 0
    subject = f"model:{model}"
    name = f"events:{model}"
    routed = 0
    with db.write() as conn:
        position = lock_cursor(conn, name)
        while True:
            rows = conn.execute(
                sa.select(audit_log)
                .where(
                    audit_log.c.seq > position,
                    sa.or_(
                        audit_log.c.subject == subject,
                        audit_log.c.subject.startswith(subject + "/", autoescape=True),
                    ),
                )
                .order_by(audit_log.c.seq)
                .limit(_SCAN)
            ).all()
            for row in rows:
                if any(fnmatchcase(row.action, p) for p in patterns):
                    payload = {
                        "model": model,
                        "seq": row.seq,
                        "at": row.at,
                        "actor": row.actor,
                        "subject": row.subject,
                        "details": row.details,
                    }
                    enqueue(conn, row.action, payload)
                    routed += 1
            if rows:
                position = int(rows[-1].seq)
            if len(rows) < _SCAN:
                break
        _move_cursor(conn, name, position)
    return routed


def deliver_pending(
    db: Database, sinks: Sequence[AlertSink], *, model: str | None = None, max_attempts: int = 5
) -> dict[str, int]:
    """Fan queued events out to ``sinks`` and send every pending delivery, oldest first.

    Returns ``{"sent": n, "failed": n, "pending": n}``: deliveries that succeeded and that failed
    in this call, and the rows still waiting afterwards (deliveries to retry on a later call plus
    events not yet fanned out). A sink that raises anything is recorded as a failed attempt and
    the other sinks still get their deliveries; after ``max_attempts`` a delivery is ``failed``.
    """
    if max_attempts < 1:
        raise InvalidInput("max_attempts", "must be at least 1")
    by_name: dict[str, AlertSink] = {}
    for sink in sinks:
        if sink.name in by_name or sink.name == EVERY_SINK:
            raise InvalidInput("sinks", f"sink name {sink.name!r} is used twice or reserved")
        by_name[sink.name] = sink
    if model is not None:
        validate_name(model, "model")
    if by_name:
        _fan_out(db, list(by_name), model)
    sent = failed = 0
    for row in _pending_deliveries(db, list(by_name), model):
        sink = by_name[row.sink]
        try:
            sink.send(dict(row.payload))
        except Exception as exc:  # any sink error is recorded; one bad sink must not stop others
            reason = exc.message if isinstance(exc, DeliveryFailed) else f"{type(exc).__name__}"
            if not isinstance(exc, DeliveryFailed) and str(exc):
                reason += f": {exc}"
            _mark(db, row.id, row.attempts + 1, reason, max_attempts)
            failed += 1
        else:
            _mark(db, row.id, row.attempts + 1, None, max_attempts)
            sent += 1
    return {"sent": sent, "failed": failed, "pending": _count_pending(db, list(by_name), model)}


def _of_model(rows: Sequence[sa.Row[Any]], model: str | None) -> list[sa.Row[Any]]:
    """Rows about ``model`` (every row when None); the model is in the payload, not a column."""
    return [r for r in rows if model is None or r.payload.get("model") == model]


def _fan_out(db: Database, names: list[str], model: str | None) -> None:
    """Turn each pending event row into one pending delivery row per sink, atomically."""
    with db.write() as conn:
        events = _of_model(
            conn.execute(
                sa.select(notifications)
                .where(notifications.c.sink == EVERY_SINK, notifications.c.status == "pending")
                .order_by(notifications.c.id)
                .with_for_update()
            ).all(),
            model,
        )
        now = utcnow()
        for event in events:
            for name in names:
                delivery_id = conn.execute(
                    notifications.insert()
                    .values(
                        alert_id=event.alert_id,
                        event=event.event,
                        sink=name,
                        status="pending",
                        attempts=0,
                        error=None,
                        payload=event.payload,
                        created_at=now,
                    )
                    .returning(notifications.c.id)
                ).scalar_one()
                conn.execute(
                    notifications.update()
                    .where(notifications.c.id == delivery_id)
                    .values(payload={**event.payload, "delivery": str(delivery_id)})
                )
            conn.execute(
                notifications.update()
                .where(notifications.c.id == event.id)
                .values(status="dispatched")
            )


def _pending_deliveries(db: Database, names: list[str], model: str | None) -> list[sa.Row[Any]]:
    if not names:
        return []
    with db.read() as conn:
        rows = conn.execute(
            sa.select(notifications)
            .where(notifications.c.sink.in_(names), notifications.c.status == "pending")
            .order_by(notifications.c.id)
        ).all()
    return _of_model(rows, model)


def _mark(db: Database, row_id: int, attempts: int, error: str | None, max_attempts: int) -> None:
    status = "sent" if error is None else ("failed" if attempts >= max_attempts else "pending")
    with db.write() as conn:
        conn.execute(
            notifications.update()
            .where(notifications.c.id == row_id, notifications.c.status == "pending")
            .values(status=status, attempts=attempts, error=error)
        )


def _count_pending(db: Database, names: list[str], model: str | None) -> int:
    with db.read() as conn:
        rows = conn.execute(
            sa.select(notifications.c.payload).where(
                notifications.c.status == "pending",
                notifications.c.sink.in_([EVERY_SINK, *names]),
            )
        ).all()
    return len(_of_model(rows, model))


def list_notifications(
    db: Database, alert_id: int | None = None, limit: int = 100
) -> list[dict[str, Any]]:
    """Event and delivery rows, newest first, as plain dicts (times in ISO 8601)."""
    positive_limit(limit)
    query = sa.select(notifications).order_by(notifications.c.id.desc()).limit(limit)
    if alert_id is not None:
        query = query.where(notifications.c.alert_id == alert_id)
    with db.read() as conn:
        rows = conn.execute(query).all()
    return [
        {
            "id": r.id,
            "alert_id": r.alert_id,
            "event": r.event,
            "sink": r.sink,
            "status": r.status,
            "attempts": r.attempts,
            "error": r.error,
            "payload": r.payload,
            "created_at": r.created_at.isoformat(),
        }
        for r in rows
    ]
