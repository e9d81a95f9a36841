"""How many alerts each model has open, by severity: one grouped query over the alerts table
for the whole fleet (a page listing every model must not ask once per model)."""

from __future__ import annotations

import sqlalchemy as sa

from keel.store.database import Database
from keel.store.schema import alerts

__all__ = ["OPEN_STATES", "open_alert_counts"]

#: an alert is open until it resolves, acknowledged or not
OPEN_STATES = ("firing", "acknowledged")


def open_alert_counts(db: Database) -> dict[str, dict[str, int]]:
    """Model -> severity -> open alerts; a model without open alerts is left out."""
    query = (
        sa.select(alerts.c.model, alerts.c.severity, sa.func.count().label("n"))
        .where(alerts.c.state.in_(OPEN_STATES))
        .group_by(alerts.c.model, alerts.c.severity)
    )
    counts: dict[str, dict[str, int]] = {}
    with db.read() as conn:
        for row in conn.execute(query):
            counts.setdefault(row.model, {})[row.severity] = int(row.n)
    return counts
