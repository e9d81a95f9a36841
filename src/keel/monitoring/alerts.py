"""Alerts: a policy's rules turned into alerts that fire, resolve and are acknowledged, kept in the
store and announced through the outbox (``keel.monitoring.outbox``) to sinks.

One rule of one model has at most one *open* alert (firing or acknowledged), found by its
fingerprint (SHA-256 of model and rule text), so a rule that stays breached updates that alert
instead of piling up rows or messages. People hear about it when it fires, as a reminder while
it stays firing and unacknowledged once per ``cooldown``, and when it resolves. A rule that
breaches again less than ``cooldown`` after resolving reopens the same alert silently (flapping
suppression); if it then stays breached a reminder follows a cooldown after the last message,
and its resolution is announced only if a message went out since the previous one.

Each fire, resolve and acknowledgement is audited (``alert.fire``, ``alert.resolve``,
``alert.acknowledge`` on ``model:{model}``) in the same transaction as the change and its queued
notification, so the store, the trail and what is sent always agree.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from typing import Any, Literal

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from keel.domain.alert_rules import AlertRule
from keel.domain.names import validate_name
from keel.errors import Conflict, InvalidInput, NotFound
from keel.monitoring.outbox import (
    EVERY_SINK,
    deliver_pending,
    enqueue,
    list_notifications,
    lock_cursor,
    route_events,
)
from keel.registry import audit
from keel.registry.clock import utcnow
from keel.registry.models import positive_limit
from keel.store.database import Database
from keel.store.schema import alerts, notifications

__all__ = [
    "AlertChange",
    "AlertRecord",
    "Observation",
    "acknowledge",
    "deliver_pending",
    "evaluate_rules",
    "fingerprint",
    "list_alerts",
    "list_notifications",
    "route_events",
]

State = Literal["firing", "acknowledged", "resolved"]
Transition = Literal["fired", "refired", "reminded", "resolved", "unchanged"]
_OPEN = ("firing", "acknowledged")
_STATES = (*_OPEN, "resolved")


@dataclass(frozen=True)
class Observation:
    """What a rule's metric measured; ``value=None`` means not enough data to judge.

    ``limit`` is the threshold for rules that take theirs from the version's reference
    (``accuracy below reference``); a rule with a number typed keeps its own."""

    value: float | None
    window_id: int | None = None
    details: dict[str, Any] = field(default_factory=dict)
    limit: float | None = None


@dataclass(frozen=True)
class AlertRecord:
    id: int
    model: str
    rule: str
    state: State
    severity: str
    value: float | None
    threshold: float | None
    message: str
    details: dict[str, Any]
    window_id: int | None
    fired_at: datetime
    last_seen_at: datetime
    resolved_at: datetime | None
    acknowledged_by: str | None
    acknowledged_at: datetime | None
    last_notified_at: datetime | None
    occurrences: int

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: times as ISO 8601 strings."""
        return {k: v.isoformat() if isinstance(v, datetime) else v for k, v in asdict(self).items()}


@dataclass(frozen=True)
class AlertChange:
    """What one evaluation did to a rule's alert: the alert as it now stands and how it moved."""

    alert: AlertRecord
    transition: Transition

    def to_dict(self) -> dict[str, Any]:
        """The alert's JSON with its ``transition`` beside its fields."""
        return {**self.alert.to_dict(), "transition": self.transition}


def fingerprint(model: str, rule_text: str) -> str:
    """The identity of "this rule on this model" across evaluations."""
    return hashlib.sha256(f"{model}\n{rule_text}".encode()).hexdigest()


def evaluate_rules(
    db: Database,
    actor: str,
    model: str,
    rules: list[AlertRule],
    observe: Callable[[AlertRule], Observation | None],
    *,
    now: datetime,
    cooldown: timedelta,
) -> list[AlertChange]:
    """Observe every rule, then apply all resulting alert changes in one transaction.

    Returns one change per rule that has an alert (``unchanged`` for a de-duplicated breach or an
    open alert without data); rules with no data and no open alert, or not breached and with
    nothing open, return nothing. ``observe`` runs before the transaction opens, so it may read
    the store freely.
    """
    validate_name(model, "model")
    if now.tzinfo is None:
        raise InvalidInput("now", "must be a timezone-aware datetime")
    if cooldown < timedelta(0):
        raise InvalidInput("cooldown", "must not be negative")
    unique = list({rule.text: rule for rule in rules}.values())
    observed = [(rule, observe(rule)) for rule in unique]
    changes: list[AlertChange] = []
    with db.write() as conn:
        lock_cursor(conn, f"alerts:{model}")  # one evaluator per model at a time
        for rule, seen in observed:
            change = _apply(conn, actor, model, rule, seen, now, cooldown)
            if change is not None:
                changes.append(change)
    return changes


def _apply(
    conn: Connection,
    actor: str,
    model: str,
    rule: AlertRule,
    seen: Observation | None,
    now: datetime,
    cooldown: timedelta,
) -> AlertChange | None:
    key = fingerprint(model, rule.text)
    current = conn.execute(
        sa.select(alerts)
        .where(alerts.c.fingerprint == key, alerts.c.state.in_(_OPEN))
        .order_by(alerts.c.id.desc())
        .limit(1)
        .with_for_update()
    ).first()
    limit = seen.limit if seen is not None and seen.limit is not None else rule.threshold
    if seen is None or seen.value is None or limit is None:
        return None if current is None else AlertChange(_record(current), "unchanged")
    value = float(seen.value)
    observed: dict[str, Any] = {
        "value": value,
        "window_id": seen.window_id,
        "details": dict(seen.details),
        "message": _message(rule, value, limit),
        "threshold": limit,
    }
    if not rule.breached(value, limit):
        if current is None:
            return None
        return _resolve(conn, actor, current.id, current.details, observed, now)
    if current is not None:
        values: dict[str, Any] = {
            **observed,
            "details": _keep_acknowledgement(current.details, dict(seen.details)),
            "last_seen_at": now,
            "occurrences": current.occurrences + 1,
        }
        remind = current.state == "firing" and _due(current.last_notified_at, now, cooldown)
        if remind:
            values["last_notified_at"] = now
        record = _update(conn, current.id, values)
        if not remind:
            return AlertChange(record, "unchanged")
        enqueue(conn, "alert.reminder", _payload(record, now), record.id)
        return AlertChange(record, "reminded")
    recent = conn.execute(
        sa.select(alerts)
        .where(
            alerts.c.fingerprint == key,
            alerts.c.state == "resolved",
            alerts.c.resolved_at > now - cooldown,
        )
        .order_by(alerts.c.resolved_at.desc())
        .limit(1)
        .with_for_update()
    ).first()
    if recent is not None:  # flapping: reopen quietly, the reminder logic takes it from here
        record = _update(
            conn,
            recent.id,
            {
                **observed,
                "state": "firing",
                "last_seen_at": now,
                "resolved_at": None,
                "acknowledged_by": None,
                "acknowledged_at": None,
                "occurrences": recent.occurrences + 1,
            },
        )
        _audit(conn, actor, "alert.fire", record, reopened=True)
        return AlertChange(record, "refired")
    alert_id = conn.execute(
        alerts.insert()
        .values(
            model=model,
            rule=rule.text,
            fingerprint=key,
            state="firing",
            severity=rule.severity,
            fired_at=now,
            last_seen_at=now,
            last_notified_at=now,
            occurrences=1,
            **observed,
        )
        .returning(alerts.c.id)
    ).scalar_one()
    record = _get(conn, alert_id)
    _audit(conn, actor, "alert.fire", record, reopened=False)
    enqueue(conn, "alert.fired", _payload(record, now), record.id)
    return AlertChange(record, "fired")


def _resolve(
    conn: Connection,
    actor: str,
    alert_id: int,
    details: dict[str, Any],
    observed: dict[str, Any],
    now: datetime,
) -> AlertChange:
    # announce the resolution only if something was announced since the last one: a quietly
    # reopened (flapping) alert that resolves again has nothing new to tell anyone
    last_event = conn.execute(
        sa.select(notifications.c.event)
        .where(notifications.c.alert_id == alert_id, notifications.c.sink == EVERY_SINK)
        .order_by(notifications.c.id.desc())
        .limit(1)
    ).scalar()
    announce = last_event != "alert.resolved"
    values: dict[str, Any] = {**observed, "state": "resolved", "resolved_at": now}
    values["details"] = _keep_acknowledgement(details, dict(observed["details"]))
    if announce:
        values["last_notified_at"] = now
    record = _update(conn, alert_id, values)
    _audit(conn, actor, "alert.resolve", record)
    if announce:
        enqueue(conn, "alert.resolved", _payload(record, now), record.id)
    return AlertChange(record, "resolved")


def _keep_acknowledgement(old: dict[str, Any], new: dict[str, Any]) -> dict[str, Any]:
    """New observation details, keeping who acknowledged the alert and why."""
    if "acknowledgement" in old:
        return {**new, "acknowledgement": old["acknowledgement"]}
    return new


def _due(last: datetime | None, now: datetime, cooldown: timedelta) -> bool:
    return last is None or now - last >= cooldown


def _message(rule: AlertRule, value: float, limit: float) -> str:
    if rule.against == "baseline":
        return (
            f"{rule.metric} is {value:+.4g} against the {rule.baseline} baseline "
            f"(not above it breaches '{rule.text}')"
        )
    return f"{rule.metric} is {value:.4g} ({rule.op} {limit:g} breaches '{rule.text}')"


def _payload(record: AlertRecord, now: datetime) -> dict[str, Any]:
    return {"model": record.model, "alert": record.to_dict(), "at": now.isoformat()}


def _audit(conn: Connection, actor: str, action: str, record: AlertRecord, **extra: Any) -> None:
    details = {
        "alert": record.id,
        "rule": record.rule,
        "value": record.value,
        "threshold": record.threshold,
        "severity": record.severity,
        **extra,
    }
    audit.append(conn, actor, action, f"model:{record.model}", details)


def _update(conn: Connection, alert_id: int, values: dict[str, Any]) -> AlertRecord:
    conn.execute(alerts.update().where(alerts.c.id == alert_id).values(**values))
    return _get(conn, alert_id)


def _get(conn: Connection, alert_id: int) -> AlertRecord:
    row = conn.execute(sa.select(alerts).where(alerts.c.id == alert_id)).first()
    if row is None:
        raise NotFound("alert", str(alert_id), hint="list them with `keel alerts list`")
    return _record(row)


def _record(row: sa.Row[Any]) -> AlertRecord:
    data = dict(row._mapping)
    data.pop("fingerprint")
    data.pop("version_id", None)  # the integrity link; the record names the version readably
    return AlertRecord(**data)


def list_alerts(
    db: Database, model: str | None = None, state: str | None = None, limit: int = 100
) -> list[AlertRecord]:
    """Alerts newest first (by when first raised); ``state`` may also be ``open`` (not resolved)."""
    positive_limit(limit)
    query = sa.select(alerts).order_by(alerts.c.id.desc()).limit(limit)
    if model is not None:
        query = query.where(alerts.c.model == validate_name(model, "model"))
    if state == "open":
        query = query.where(alerts.c.state.in_(_OPEN))
    elif state is not None:
        if state not in _STATES:
            raise InvalidInput("state", f"{state!r} is not one of open, {', '.join(_STATES)}")
        query = query.where(alerts.c.state == state)
    with db.read() as conn:
        return [_record(row) for row in conn.execute(query)]


def acknowledge(db: Database, actor: str, alert_id: int, reason: str) -> AlertRecord:
    """Record that someone is on it: reminders stop until the alert resolves (or reopens).

    The reason is audited and kept in the alert's details under ``acknowledgement``.
    """
    if not reason or not reason.strip():
        raise InvalidInput("reason", "say why you acknowledge the alert")
    with db.write() as conn:
        row = conn.execute(
            sa.select(alerts).where(alerts.c.id == alert_id).with_for_update()
        ).first()
        if row is None:
            raise NotFound("alert", str(alert_id), hint="list them with `keel alerts list`")
        if row.state == "resolved":
            raise Conflict(
                f"alert {alert_id} is resolved; only open alerts can be acknowledged",
                alert=alert_id,
                state=row.state,
            )
        if row.state == "acknowledged":
            raise Conflict(
                f"alert {alert_id} was already acknowledged by {row.acknowledged_by}",
                alert=alert_id,
                state=row.state,
            )
        now = utcnow()
        note = {"by": actor, "at": now.isoformat(), "reason": reason.strip()}
        record = _update(
            conn,
            alert_id,
            {
                "state": "acknowledged",
                "acknowledged_by": actor,
                "acknowledged_at": now,
                "details": {**row.details, "acknowledgement": note},
            },
        )
        _audit(conn, actor, "alert.acknowledge", record, reason=reason.strip())
        return record
