"""Joining delayed labels to the windows they belong to, and keeping realized metrics current.

Labels arrive days after their predictions, so a window's realized metrics are recomputed
whenever new labels have been logged, for windows younger than the policy's label horizon that
are not yet fully labelled. Label drift (the labels' distribution against the reference's) is
recorded with them, and so are the naive baselines scored on the same labelled rows
(``performance["baselines"]``: ``majority`` or ``mean``, plus ``persistence`` when the policy's
data is time-ordered), so every labelled window says whether the model beats a constant.
"""

from __future__ import annotations

import io
from datetime import datetime
from typing import Any, Protocol

import pandas as pd
import sqlalchemy as sa

from keel.domain.durations import parse_duration
from keel.domain.policy import Policy
from keel.monitoring.performance import (
    join_labels,
    newest_labels,
    orders_by_time,
    realized_baselines,
    realized_metrics,
)
from keel.monitoring.references import Reference
from keel.monitoring.window_record import drift_config
from keel.registry.clock import utcnow
from keel.store.artifacts import ArtifactStore
from keel.store.database import Database
from keel.store.prediction_log import LogStore
from keel.store.schema import cursors, monitor_windows


class ReferenceOf(Protocol):
    def __call__(self, version: int) -> Reference: ...


def read_labels(logs: LogStore, model: str, *, arrival: bool = False) -> pd.DataFrame:
    """Every label logged for ``model``, one (the newest) per request id (``arrival``: with
    the time each was logged)."""
    import pyarrow as pa

    tables = [logs.read(p) for p in logs.parts("labels", model)]
    if not tables:
        return newest_labels(pd.DataFrame(), arrival=arrival)
    frame = pa.concat_tables(tables, promote_options="permissive").to_pandas()
    return newest_labels(frame, arrival=arrival)


def load_index(artifacts: ArtifactStore, sha256: str) -> pd.DataFrame:
    return pd.read_parquet(io.BytesIO(artifacts.get(sha256)))


def _label_parts_seen(db: Database, model: str) -> int:
    with db.read() as conn:
        value = conn.execute(
            sa.select(cursors.c.position).where(cursors.c.name == f"labels:{model}")
        ).scalar_one_or_none()
    return int(value or 0)


def _remember_label_parts(db: Database, model: str, count: int) -> None:
    from keel.store.database import insert_ignore

    name = f"labels:{model}"
    with db.write() as conn:
        insert_ignore(
            conn, cursors, {"name": name, "position": 0, "updated_at": utcnow()}, ["name"]
        )
        conn.execute(
            cursors.update()
            .where(cursors.c.name == name)
            .values(position=count, updated_at=utcnow())
        )


def refresh_performance(
    db: Database,
    artifacts: ArtifactStore,
    logs: LogStore,
    model: str,
    policy: Policy,
    references: ReferenceOf,
    now: datetime,
    *,
    new_windows: bool,
    labels: pd.DataFrame | None = None,
) -> int:
    """Recompute realized metrics of windows that may have gained labels; returns how many
    windows changed."""
    parts = len(logs.parts("labels", model))
    if parts == 0 or (parts == _label_parts_seen(db, model) and not new_windows):
        return 0
    labelled = read_labels(logs, model) if labels is None else labels
    horizon = now - parse_duration(policy.monitoring.label_horizon, "monitoring.label_horizon")
    with db.read() as conn:
        rows = conn.execute(
            sa.select(
                monitor_windows.c.id,
                monitor_windows.c.version,
                monitor_windows.c.index_sha256,
                monitor_windows.c.labelled_rows,
            )
            .where(monitor_windows.c.model == model)
            .where(monitor_windows.c.labelled_rows < monitor_windows.c.rows)
            .where(monitor_windows.c.end_at >= horizon)
            .order_by(monitor_windows.c.id)
        ).all()
    changed = 0
    for row in rows:
        joined = join_labels(load_index(artifacts, row.index_sha256), labelled)
        if len(joined) == row.labelled_rows:
            continue
        reference = references(int(row.version))
        performance = realized_metrics(joined, reference)
        performance["label_drift"] = _label_drift(joined, reference, policy)
        performance["baselines"] = realized_baselines(
            joined, reference, persistence=orders_by_time(policy)
        )
        with db.write() as conn:
            conn.execute(
                monitor_windows.update()
                .where(monitor_windows.c.id == row.id)
                .values(performance=performance, labelled_rows=len(joined), updated_at=utcnow())
            )
        changed += 1
    _remember_label_parts(db, model, parts)
    return changed


def _label_drift(
    joined: pd.DataFrame, reference: Reference, policy: Policy
) -> dict[str, Any] | None:
    from keel.monitoring.drift import detect_drift

    if reference.labels is None or joined.empty:
        return None
    labels = joined[["label"]]
    if reference.task == "classification":
        labels = labels.astype({"label": str})
    config = drift_config(policy.monitoring.drift, seed=0, multivariate=False)
    return dict(detect_drift(reference.labels, labels, config).to_dict())
