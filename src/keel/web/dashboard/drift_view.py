"""The drift page's data: one monitoring window's per-feature tests sorted by effect size (the
largest change first; a feature without an effect last), with the histograms stored with the
window for the overlays."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from keel.errors import NotFound
from keel.store.database import Database
from keel.store.schema import monitor_windows


def window_page(db: Database, name: str, window_id: int) -> dict[str, Any]:
    with db.read() as conn:
        row = conn.execute(
            sa.select(monitor_windows).where(
                monitor_windows.c.id == window_id, monitor_windows.c.model == name
            )
        ).first()
        neighbours = conn.execute(
            sa.select(monitor_windows.c.id, monitor_windows.c.end_at)
            .where(monitor_windows.c.model == name)
            .where(
                sa.or_(
                    monitor_windows.c.id == _nearest(name, window_id, before=True),
                    monitor_windows.c.id == _nearest(name, window_id, before=False),
                )
            )
        ).all()
    if row is None:
        raise NotFound(
            "monitoring window",
            f"{name}#{window_id}",
            hint=f"`keel monitor windows {name}` lists them",
        )
    drift = row.drift or {}
    features = sorted(
        (_feature(f) for f in drift.get("features", [])),
        key=lambda f: -(f["effect"] if f["effect"] is not None else -1.0),
    )
    return {
        "name": name,
        "id": row.id,
        "version": row.version,
        "start_at": row.start_at,
        "end_at": row.end_at,
        "rows": row.rows,
        "labelled_rows": row.labelled_rows,
        "reference": row.reference,
        "drifted": drift.get("drifted", []),
        "alarm": bool(drift.get("alarm")),
        "multivariate": drift.get("multivariate"),
        "prediction_drift": drift.get("prediction_drift"),
        "outputs": drift.get("outputs"),
        "features": features,
        "estimate": row.estimate,
        "performance": {k: v for k, v in (row.performance or {}).items() if k != "label_drift"},
        "operations": row.operations,
        "quality": row.quality,
        "previous": next((n.id for n in neighbours if n.id < window_id), None),
        "next": next((n.id for n in neighbours if n.id > window_id), None),
    }


def _nearest(name: str, window_id: int, *, before: bool) -> Any:
    c = monitor_windows.c
    if before:
        return (
            sa.select(sa.func.max(c.id)).where(c.model == name, c.id < window_id).scalar_subquery()
        )
    return sa.select(sa.func.min(c.id)).where(c.model == name, c.id > window_id).scalar_subquery()


def _feature(entry: dict[str, Any]) -> dict[str, Any]:
    return {
        "feature": entry.get("feature"),
        "kind": entry.get("kind"),
        "test": entry.get("test"),
        "statistic": entry.get("statistic"),
        "p_value": entry.get("p_value"),
        "p_adjusted": entry.get("p_adjusted"),
        "effect": entry.get("effect"),
        "effect_name": entry.get("effect_name"),
        "threshold": entry.get("threshold"),
        "drifted": bool(entry.get("drifted")),
        "psi": entry.get("psi"),
        "missing_share": entry.get("missing_share"),
        "reference_missing_share": entry.get("reference_missing_share"),
        "histogram": entry.get("histogram"),
    }
