"""One monitoring window in full (its per-feature drift tests, estimate, performance,
operations and data quality as the monitoring run stored them) with the ids of the model's
windows just before and after it, so a page can step through them."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from keel.errors import NotFound
from keel.monitoring.stored_window import StoredWindow
from keel.store.database import Database
from keel.store.schema import monitor_windows

__all__ = ["WindowDetail", "window_detail"]


@dataclass(frozen=True)
class WindowDetail:
    """A stored window and its neighbours' ids among its model's windows (None at either
    end)."""

    window: StoredWindow
    previous: int | None
    next: int | None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: the window as ``StoredWindow.to_dict`` gives it, and the neighbours."""
        return {**self.window.to_dict(), "previous": self.previous, "next": self.next}


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
        window=StoredWindow.of(row),
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
