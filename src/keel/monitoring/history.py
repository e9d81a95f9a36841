"""Reading stored monitoring windows back: for the CLI, reports and dashboards (never the raw
log, so a page over months of traffic reads one row per window)."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa

from keel.domain.names import validate_name
from keel.monitoring.stored_window import StoredWindow
from keel.registry.models import positive_limit
from keel.store.database import Database
from keel.store.schema import monitor_windows


def list_windows(
    db: Database,
    model: str,
    *,
    version: int | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    limit: int | None = 100,
) -> list[StoredWindow]:
    """Windows of ``model`` newest first, optionally of one version and within a time range."""
    validate_name(model, "model")
    if limit is not None:
        positive_limit(limit)
    query = (
        sa.select(monitor_windows)
        .where(monitor_windows.c.model == model)
        .order_by(monitor_windows.c.end_at.desc(), monitor_windows.c.id.desc())
    )
    if version is not None:
        query = query.where(monitor_windows.c.version == version)
    if since is not None:
        query = query.where(monitor_windows.c.end_at >= since)
    if until is not None:
        query = query.where(monitor_windows.c.start_at <= until)
    if limit is not None:
        query = query.limit(limit)
    with db.read() as conn:
        return [StoredWindow.of(row) for row in conn.execute(query)]
