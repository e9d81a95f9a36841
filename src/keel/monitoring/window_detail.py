"""One monitoring window in full (its per-feature drift tests, estimate, performance,
operations and data quality as the monitoring run stored them) with the ids of the model's
windows just before and after it, so a page can step through them."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from keel.errors import NotFound
from keel.store.database import Database
from keel.store.schema import monitor_windows

__all__ = ["WindowDetail", "window_detail"]


@dataclass(frozen=True)
class WindowDetail:
    """A stored window of ``model`` and its neighbours' ids (None at either end)."""

    id: int
    model: str
    version: int
    start_at: datetime
    end_at: datetime
    rows: int
    labelled_rows: int
    reference: dict[str, Any]
    drift: dict[str, Any]
    estimate: dict[str, Any] | None
    performance: dict[str, Any]
    operations: dict[str, Any] | None
    quality: dict[str, Any] | None
    previous: int | None
    next: int | None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: times as ISO 8601 strings."""
        out = {name: getattr(self, name) for name in self.__dataclass_fields__}
        out["start_at"] = self.start_at.isoformat()
        out["end_at"] = self.end_at.isoformat()
        return out


def window_detail(db: Database, model: str, window_id: int) -> WindowDetail:
    """Window ``window_id`` of ``model``; NotFound when it is not one of ``model``'s."""
    c = monitor_windows.c
    with db.read() as conn:
        row = conn.execute(
            sa.select(monitor_windows).where(c.id == window_id, c.model == model)
        ).first()
        neighbours = conn.execute(
            sa.select(c.id)
            .where(c.model == model)
            .where(
                sa.or_(
                    c.id == _nearest(model, window_id, before=True),
                    c.id == _nearest(model, window_id, before=False),
                )
            )
        ).all()
    if row is None:
        raise NotFound(
            "monitoring window",
            f"{model}#{window_id}",
            hint=f"`keel monitor windows {model}` lists them",
        )
    return WindowDetail(
        id=row.id,
        model=row.model,
        version=row.version,
        start_at=row.start_at,
        end_at=row.end_at,
        rows=row.rows,
        labelled_rows=row.labelled_rows,
        reference=row.reference,
        drift=row.drift or {},
        estimate=row.estimate,
        performance=row.performance or {},
        operations=row.operations,
        quality=row.quality,
        previous=next((n.id for n in neighbours if n.id < window_id), None),
        next=next((n.id for n in neighbours if n.id > window_id), None),
    )


def _nearest(model: str, window_id: int, *, before: bool) -> sa.ScalarSelect[Any]:
    c = monitor_windows.c
    if before:
        return (
            sa.select(sa.func.max(c.id)).where(c.model == model, c.id < window_id).scalar_subquery()
        )
    return sa.select(sa.func.min(c.id)).where(c.model == model, c.id > window_id).scalar_subquery()
