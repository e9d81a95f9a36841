"""A window's health at a glance: its span, size, realized and estimated accuracy, drifted
features and operations, read as a few fields the database extracts from the window's JSON, so
a series over a thousand windows never reads their per-feature drift detail (kilobytes each).

``newest_health`` answers for every model at once (one index walk per model, two queries in
all), so a page over the whole fleet costs the same for ten models or a thousand.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from keel.domain.names import validate_name
from keel.registry.models import positive_limit
from keel.store.database import Database
from keel.store.schema import models, monitor_windows

__all__ = ["LatestHealth", "WindowHealth", "health_series", "newest_health"]


@dataclass(frozen=True)
class WindowHealth:
    """One monitoring window's headline figures (None where the window did not measure it)."""

    window_id: int
    version: int
    start_at: datetime
    end_at: datetime
    rows: int
    labelled_rows: int
    accuracy: float | None
    #: "always the most frequent class" on the same labelled rows: the floor to beat
    baseline_accuracy: float | None
    estimated_accuracy: float | None
    drifted: tuple[str, ...]
    latency_p50_ms: float | None
    latency_p99_ms: float | None
    throughput_rps: float | None
    cost_per_1k: float | None
    error_rate: float | None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: times as ISO 8601 strings."""
        out = {name: getattr(self, name) for name in self.__dataclass_fields__}
        out["start_at"] = self.start_at.isoformat()
        out["end_at"] = self.end_at.isoformat()
        out["drifted"] = list(self.drifted)
        return out


@dataclass(frozen=True)
class LatestHealth:
    """A model's newest window, and its newest labelled one (labels lag: realized accuracy is
    the newest labelled window's)."""

    newest: WindowHealth
    labelled: WindowHealth | None

    def to_dict(self) -> dict[str, Any]:
        labelled = self.labelled.to_dict() if self.labelled is not None else None
        return {"newest": self.newest.to_dict(), "labelled": labelled}


def _columns() -> list[sa.ColumnElement[Any]]:
    """The few fields of a window a health summary needs, extracted by the database."""
    w = monitor_windows.c
    return [
        w.id,
        w.model,
        w.version,
        w.start_at,
        w.end_at,
        w.rows,
        w.labelled_rows,
        w.performance["accuracy"].label("accuracy"),
        w.performance["baselines"]["majority"]["accuracy"].label("baseline_accuracy"),
        w.estimate["metrics"]["accuracy"].label("estimated_accuracy"),
        w.drift["drifted"].label("drifted"),
        w.operations["latency_p50_ms"].label("latency_p50_ms"),
        w.operations["latency_p99_ms"].label("latency_p99_ms"),
        w.operations["throughput_rps"].label("throughput_rps"),
        w.operations["cost_per_1k"].label("cost_per_1k"),
        w.operations["error_rate"].label("error_rate"),
    ]


def _health(row: sa.Row[Any]) -> WindowHealth:
    drifted = row.drifted if isinstance(row.drifted, list) else []
    return WindowHealth(
        window_id=row.id,
        version=row.version,
        start_at=row.start_at,
        end_at=row.end_at,
        rows=row.rows,
        labelled_rows=row.labelled_rows,
        accuracy=_number(row.accuracy),
        baseline_accuracy=_number(row.baseline_accuracy),
        estimated_accuracy=_number(row.estimated_accuracy),
        drifted=tuple(str(name) for name in drifted),
        latency_p50_ms=_number(row.latency_p50_ms),
        latency_p99_ms=_number(row.latency_p99_ms),
        throughput_rps=_number(row.throughput_rps),
        cost_per_1k=_number(row.cost_per_1k),
        error_rate=_number(row.error_rate),
    )


def _number(value: Any) -> float | None:
    """A figure as stored in JSON: a number, or None for anything else."""
    if value is None or isinstance(value, bool):
        return None
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def health_series(db: Database, model: str, limit: int = 1000) -> list[WindowHealth]:
    """The newest ``limit`` windows of ``model``, oldest first (as a chart draws them)."""
    validate_name(model, "model")
    w = monitor_windows.c
    query = (
        sa.select(*_columns())
        .where(w.model == model)
        .order_by(w.end_at.desc(), w.id.desc())
        .limit(positive_limit(limit))
    )
    with db.read() as conn:
        found = [_health(row) for row in conn.execute(query)]
    found.reverse()
    return found


def newest_health(db: Database) -> dict[str, LatestHealth]:
    """Every monitored model's newest window (by end time; the newest id wins a tie) and its
    newest labelled one."""
    with db.read() as conn:
        newest = _newest_windows(conn, labelled=False)
        labelled = {row.model: _health(row) for row in _newest_windows(conn, labelled=True)}
    return {row.model: LatestHealth(_health(row), labelled.get(row.model)) for row in newest}


def _newest_windows(conn: sa.Connection, *, labelled: bool) -> list[sa.Row[Any]]:
    """Each model's newest window, or its newest window with labels.

    One index walk per model (newest first on ``(model, end_at)``, stopping at the first
    match) instead of a GROUP BY, which would read every window row, drift detail and all."""
    w = monitor_windows.c
    inner = monitor_windows.alias("newest")
    pick = sa.select(inner.c.id).where(inner.c.model == models.c.name)
    if labelled:
        pick = pick.where(inner.c.labelled_rows > 0)
    pick = pick.order_by(inner.c.end_at.desc(), inner.c.id.desc()).limit(1)
    ids = sa.select(pick.scalar_subquery()).select_from(models)
    query = sa.select(*_columns()).where(w.id.in_(ids))
    return list(conn.execute(query.order_by(w.id)).all())
