"""Telling people a rollout went wrong: an alert row and an outbox event, in the same transaction
as the decision, so the store, the audit trail and what is sent always agree.

A breached rollout raises the alert ``rollout of {model}/{version}`` (critical). Like every alert
it has one open row per fingerprint: breaching again while it is open counts another occurrence
on the same row instead of piling up alerts. It is listed, acknowledged and resolved with the
other alerts (``keel alerts``); nothing resolves it automatically, because a rolled-back version
stays suspect until a person has looked at it.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from keel.domain.deployments import Deployment
from keel.monitoring.alerts import fingerprint
from keel.monitoring.outbox import enqueue
from keel.registry import audit
from keel.store.schema import alerts
from keel.store.version_links import version_id

__all__ = ["announce", "raise_rollout_alert", "rule_text"]

_OPEN = ("firing", "acknowledged")


def rule_text(model: str, version: int) -> str:
    """The rule of a rollout alert: ``rollout of fraud/4``."""
    return f"rollout of {model}/{version}"


def raise_rollout_alert(
    conn: Connection,
    actor: str,
    model: str,
    version: int,
    *,
    message: str,
    details: dict[str, Any],
    now: datetime,
) -> int:
    """Record a firing alert for the rollout of ``model/version`` inside the caller's write
    transaction (audited as ``alert.fire``); returns the alert's id."""
    rule = rule_text(model, version)
    key = fingerprint(model, rule)
    current = conn.execute(
        sa.select(alerts.c.id, alerts.c.occurrences)
        .where(alerts.c.fingerprint == key, alerts.c.state.in_(_OPEN))
        .order_by(alerts.c.id.desc())
        .limit(1)
        .with_for_update()
    ).first()
    if current is not None:
        conn.execute(
            alerts.update()
            .where(alerts.c.id == current.id)
            .values(
                state="firing",
                message=message,
                details=details,
                last_seen_at=now,
                last_notified_at=now,
                occurrences=current.occurrences + 1,
            )
        )
        alert_id = int(current.id)
    else:
        alert_id = int(
            conn.execute(
                alerts.insert()
                .values(
                    model=model,
                    rule=rule,
                    fingerprint=key,
                    state="firing",
                    severity="critical",
                    value=None,
                    threshold=None,
                    message=message,
                    details=details,
                    window_id=None,
                    version_id=version_id(conn, model, version),
                    fired_at=now,
                    last_seen_at=now,
                    last_notified_at=now,
                    occurrences=1,
                )
                .returning(alerts.c.id)
            ).scalar_one()
        )
    audit.append(
        conn,
        actor,
        "alert.fire",
        f"model:{model}",
        {
            "alert": alert_id,
            "rule": rule,
            "value": None,
            "threshold": None,
            "severity": "critical",
            "reopened": current is not None,
        },
    )
    return alert_id


def announce(
    conn: Connection,
    event: str,
    deployment: Deployment,
    *,
    actor: str,
    reasons: list[str],
    alert_id: int | None = None,
) -> int:
    """Queue ``event`` (``deployment.rollback``, ``deployment.stopped``, ...) for the sinks."""
    subject = f"model:{deployment.model}/{deployment.candidate_version}"
    return enqueue(
        conn,
        event,
        {
            "model": deployment.model,
            "actor": actor,
            "subject": subject,
            "deployment": deployment.id,
            "version": deployment.candidate_version,
            "stable": deployment.stable_version,
            "reasons": reasons,
            "details": {
                "deployment": deployment.id,
                "strategy": deployment.strategy,
                "reasons": "; ".join(reasons),
            },
        },
        alert_id,
    )
