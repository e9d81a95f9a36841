"""A window's health at a glance: its span, size, the metrics declared for the window-health
view (``keel.domain.metric_specs``: realized and estimated accuracy, latency, throughput, cost,
errors), its majority baseline and drifted features, read as a few fields the database extracts
from the window's JSON, so a series over a thousand windows never reads their per-feature drift
detail (kilobytes each).

``newest_health`` answers for every model at once (one index walk per model, two queries in
all), so a page over the whole fleet costs the same for ten models or a thousand.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from keel.domain.metric_specs import MetricSpec, shown_in
from keel.domain.names import validate_name
from keel.registry.models import positive_limit
from keel.store.database import Database
from keel.store.schema import models, monitor_windows

__all__ = ["HEALTH_METRICS", "LatestHealth", "WindowHealth", "health_series", "newest_health"]

#: the metrics a health summary carries: those declared for the window-health view, each read
#: where its declaration places it in a stored window
HEALTH_METRICS: tuple[MetricSpec, ...] = tuple(s for s in shown_in("window_health") if s.window)


@dataclass(frozen=True)
class WindowHealth:
    """One monitoring window's headline figures (None where the window did not measure it)."""

    window_id: int
    version: int
    start_at: datetime
    end_at: datetime
    rows: int
    labelled_rows: int
    #: each of ``HEALTH_METRICS`` by its declared name
    metrics: Mapping[str, float | None]
    #: "always the most frequent class" on the same labelled rows: the floor to beat
    baseline_accuracy: float | None
    drifted: tuple[str, ...]

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready and flat (a metric under its own name): times as ISO 8601 strings."""
        return {
            "window_id": self.window_id,
            "version": self.version,
            "start_at": self.start_at.isoformat(),
            "end_at": self.end_at.isoformat(),
            "rows": self.rows,
            "labelled_rows": self.labelled_rows,
            **self.metrics,
            "baseline_accuracy": self.baseline_accuracy,
            "drifted": list(self.drifted),
        }


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
        *(column for spec in HEALTH_METRICS for column in _located(spec)),
        w.performance["baselines"]["majority"]["accuracy"].label("baseline_accuracy"),
        w.drift["drifted"].label("drifted"),
    ]


def _located(spec: MetricSpec) -> list[sa.ColumnElement[Any]]:
    """The JSON at the spec's window location, labelled with the spec's name: the value itself,
    and for a share the list it is a share of; for a count or flag deeper than the column, the
    mapping holding it (whether that mapping is there tells "none" from "not measured")."""
    window = spec.window
    assert window is not None  # HEALTH_METRICS keeps the located ones
    if window.reading != "number" and len(window.path) > 1:
        return [_at(window.column, window.path[:-1]).label(spec.name)]
    found = [_at(window.column, window.path).label(spec.name)]
    if window.per is not None:
        found.append(_at(window.column, (window.per,)).label(f"{spec.name}__per"))
    return found


def _at(column: str, path: tuple[str, ...]) -> Any:
    value: Any = monitor_windows.c[column]
    for key in path:
        value = value[key]
    return value


def _health(row: sa.Row[Any]) -> WindowHealth:
    drifted = row.drifted if isinstance(row.drifted, list) else []
    return WindowHealth(
        window_id=row.id,
        version=row.version,
        start_at=row.start_at,
        end_at=row.end_at,
        rows=row.rows,
        labelled_rows=row.labelled_rows,
        metrics={spec.name: _read(spec, row._mapping) for spec in HEALTH_METRICS},
        baseline_accuracy=_number(row.baseline_accuracy),
        drifted=tuple(str(name) for name in drifted),
    )


def _read(spec: MetricSpec, row: sa.RowMapping) -> float | None:
    """A metric's extracted JSON read as its declaration reads it: a number as it is, a list's
    length or share, a fact's presence."""
    window = spec.window
    assert window is not None
    if window.reading == "number":
        return _number(row[spec.name])
    node: Any = row[spec.name]  # the mapping holding the value, or (at the top) the value
    if len(window.path) == 1:
        node = {window.path[0]: node}
        if window.per is not None:
            node[window.per] = row[f"{spec.name}__per"]
    for key in reversed(window.path[:-1]):
        node = {key: node}
    return window.read_from({window.column: node})


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
