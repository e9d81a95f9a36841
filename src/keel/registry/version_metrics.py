"""A run's metrics follow onto the versions registered in it, whenever they are logged.

MLflow users log a model and then its metrics (``log_model`` first, ``log_metric`` after), and
expect ``keel versions list --filter "metrics.accuracy > 0.5"`` to find the version either way.
A version registered in a run takes the run's latest values at registration
(``keel.registry.models.register``); a value logged on the run afterwards is copied onto the
version in the transaction that stores the value, as an audited ``version.metrics`` entry the
audit replay holds the table to. Metrics given to ``register`` stay the version's own: the run's
later values of those keys do not replace them.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from keel.registry import audit
from keel.store.schema import audit_log, model_versions, models

#: runs a version was registered in by this process: logging a metric is a hot path (a few
#: hundred microseconds), so only these pay for the copy; a Run lives in one process, and every
#: public door registers through it
_runs_with_versions: set[str] = set()


def note_version(run_id: str | None) -> None:
    """Record that a version was registered in ``run_id`` (called by ``register``)."""
    if run_id is not None:
        _runs_with_versions.add(run_id)


def has_versions(run_id: str) -> bool:
    """Whether this process registered a version in ``run_id``."""
    return run_id in _runs_with_versions


def follow(conn: Connection, actor: str, run_id: str, values: dict[str, float]) -> None:
    """Copy ``values`` (the run's newest value of each key) onto every version registered in
    ``run_id``, leaving the keys each version was given at registration."""
    rows = conn.execute(
        sa.select(model_versions.c.id, model_versions.c.version, model_versions.c.metrics)
        .add_columns(models.c.name)
        .join(models, models.c.id == model_versions.c.model_id)
        .where(model_versions.c.run_id == run_id)
        .order_by(model_versions.c.id)
    ).all()
    for row in rows:
        subject = f"model:{row.name}/{row.version}"
        current: dict[str, Any] = dict(row.metrics or {})
        given = _given_keys(conn, subject, current)
        changed = {
            key: value
            for key, value in values.items()
            if key not in given and current.get(key) != value
        }
        if not changed:
            continue
        conn.execute(
            model_versions.update()
            .where(model_versions.c.id == row.id)
            .values(metrics={**current, **changed})
        )
        audit.append(
            conn, actor, "version.metrics", subject, {"run_id": run_id, "metrics": changed}
        )


def _given_keys(conn: Connection, subject: str, current: dict[str, Any]) -> set[str]:
    """The metric keys ``register`` was given for the version (a version registered before the
    trail recorded them keeps every key it has: nothing it holds is overwritten)."""
    details = conn.execute(
        sa.select(audit_log.c.details)
        .where(audit_log.c.subject == subject, audit_log.c.action == "version.register")
        .limit(1)
    ).scalar()
    if not isinstance(details, dict) or "metrics_given" not in details:
        return set(current)
    return set(details["metrics_given"])
