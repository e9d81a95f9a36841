"""Migration 0007 on a store written by the release before it (schema 0006): every window, alert,
deployment and retrain gets the id of the version it names, rows naming a version the store
does not have get NULL, and nothing else changes; downgrading and upgrading again does the same.

The versions are registered through the registry's own code; the history rows are written with
exactly the columns the 0006 release's writers set (``deployments.start``, the monitor runner,
``evaluate_rules`` and ``raise_rollout_alert``, ``retrains.request`` and ``retrains.move``).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from alembic import command

from keel.monitoring.alerts import fingerprint
from keel.registry import aliases, models
from keel.settings import Settings
from keel.store import schema
from keel.store.artifacts import FsspecArtifactStore
from keel.store.database import SCHEMA_HEAD, Database, _alembic_config, run_migrations

AT = datetime(2026, 11, 1, tzinfo=UTC)
#: the link columns of migration 0007, by table
LINKS = {
    "monitor_windows": ["version_id"],
    "alerts": ["version_id"],
    "deployments": ["stable_version_id", "candidate_version_id"],
    "retrains": ["champion_version_id", "candidate_version_id"],
}


def _window(model: str, version: int, hour: int) -> dict[str, Any]:
    start = AT + timedelta(hours=hour)
    return {
        "model": model,
        "version": version,
        "kind": "rows",
        "start_at": start,
        "end_at": start + timedelta(minutes=30),
        "rows": 100,
        "index_sha256": "0" * 64,
        "reference": {"key": "r"},
        "drift": {"drifted": []},
        "estimate": {"metrics": {"accuracy": 0.9}},
        "operations": {"error_rate": 0.0},
        "performance": {},
        "labelled_rows": 0,
        "quality": {},
        "created_at": start,
        "updated_at": start,
    }


def _deployment(model: str, stable: int | None, candidate: int, status: str) -> dict[str, Any]:
    return {
        "model": model,
        "strategy": "canary",
        "stable_version": stable,
        "candidate_version": candidate,
        "steps": [5.0, 50.0, 100.0],
        "step": 0,
        "candidate_weight": 5.0,
        "interval_s": 600.0,
        "sticky": False,
        "limits": {},
        "status": status,
        "reason": "",
        "analysis": [],
        "created_by": "tester",
        "created_at": AT,
        "updated_at": AT,
        "step_started_at": AT,
        "finished_at": None if status == "running" else AT,
    }


def _alert(model: str, rule: str, window_id: int | None) -> dict[str, Any]:
    rollout = rule.startswith("rollout of ")
    return {
        "model": model,
        "rule": rule,
        "fingerprint": fingerprint(model, rule),
        "state": "firing",
        "severity": "critical" if rollout else "warning",
        "value": None if rollout else 0.8,
        "threshold": None if rollout else 0.9,
        "message": "breached",
        "details": {},
        "window_id": window_id,
        "fired_at": AT,
        "last_seen_at": AT,
        "last_notified_at": AT,
        "occurrences": 1,
    }


def _retrain(model: str, state: str, champion: int | None, candidate: int | None) -> dict[str, Any]:
    ended = state not in ("queued", "training", "deploying", "rolling_out")
    return {
        "model": model,
        "active_model": None if ended else model,
        "trigger": "manual" if champion is None else "drift",
        "reason": "test",
        "state": state,
        "pipeline_run_id": None if state == "queued" else "a" * 32,
        "candidate_version": candidate,
        "details": {} if champion is None else {"champion": champion, "attempts": 0},
        "requested_by": "tester",
        "outcome": None,
        "created_at": AT,
        "updated_at": AT,
        "ended_at": AT if ended else None,
    }


def _insert(conn: sa.Connection, table: sa.Table, values: dict[str, Any]) -> int:
    """Insert only ``values``' columns (the link columns have no default, so none is sent)."""
    return int(conn.execute(table.insert().values(**values).returning(table.c.id)).scalar_one())


def _release_store(url: str, artifacts: str, fitted_model: Any) -> dict[str, int]:
    """A store at 0006 as that release leaves it; the ids of the rows written, by name."""
    raw = Database(url, migrate=False)
    try:
        with raw.engine.begin() as conn:
            command.upgrade(_alembic_config(conn), "0006")
        store = FsspecArtifactStore(artifacts)
        for _ in range(3):
            models.register(raw, store, "tester", "cancer", fitted_model)
        models.register(raw, store, "tester", "fraud", fitted_model)
        aliases.set_alias(raw, "tester", "cancer", "champion", 1, reason="first release")
        ids: dict[str, int] = {}
        with raw.write() as conn:
            windows = schema.monitor_windows
            ids["w_cancer1"] = _insert(conn, windows, _window("cancer", 1, 0))
            ids["w_cancer2"] = _insert(conn, windows, _window("cancer", 2, 1))
            ids["w_fraud1"] = _insert(conn, windows, _window("fraud", 1, 2))
            ids["w_missing"] = _insert(conn, windows, _window("cancer", 7, 3))
            alerts = schema.alerts
            ids["a_rule"] = _insert(
                conn, alerts, _alert("cancer", "accuracy < 0.9", ids["w_cancer2"])
            )
            ids["a_rollout"] = _insert(conn, alerts, _alert("cancer", "rollout of cancer/2", None))
            ids["a_missing"] = _insert(conn, alerts, _alert("cancer", "rollout of cancer/8", None))
            conn.execute(
                schema.notifications.insert().values(
                    alert_id=ids["a_rollout"],
                    event="alert.fired",
                    sink="*",
                    status="pending",
                    attempts=0,
                    error=None,
                    payload={},
                    created_at=AT,
                )
            )
            deployments = schema.deployments
            ids["d_canary"] = _insert(conn, deployments, _deployment("cancer", 1, 2, "rolled_back"))
            ids["d_first"] = _insert(conn, deployments, _deployment("fraud", None, 1, "running"))
            ids["d_missing"] = _insert(conn, deployments, _deployment("cancer", 1, 9, "stopped"))
            retrains = schema.retrains
            ids["r_done"] = _insert(conn, retrains, _retrain("cancer", "rolled_back", 1, 3))
            ids["r_queued"] = _insert(conn, retrains, _retrain("fraud", "queued", None, None))
            ids["r_missing"] = _insert(conn, retrains, _retrain("cancer", "rejected", 6, 9))
        return ids
    finally:
        raw.close()


def _readable(db: Database) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of the four tables, without the link columns, oldest first."""
    found = {}
    with db.read() as conn:
        for name, links in LINKS.items():
            table = schema.metadata.tables[name]
            columns = [c for c in table.c if c.name not in links]
            found[name] = [tuple(r) for r in conn.execute(sa.select(*columns).order_by(table.c.id))]
    return found


def _links(db: Database) -> dict[str, dict[int, tuple[Any, ...]]]:
    """The link columns of every row of the four tables, by table and row id."""
    found = {}
    with db.read() as conn:
        for name, links in LINKS.items():
            table = schema.metadata.tables[name]
            rows = conn.execute(sa.select(table.c.id, *(table.c[c] for c in links)))
            found[name] = {row[0]: tuple(row[1:]) for row in rows}
    return found


def _version_ids(db: Database) -> dict[tuple[str, int], int]:
    mv, m = schema.model_versions, schema.models
    with db.read() as conn:
        rows = conn.execute(
            sa.select(m.c.name, mv.c.version, mv.c.id).join(m, m.c.id == mv.c.model_id)
        ).all()
    return {(name, number): int(key) for name, number, key in rows}


def _columns(db: Database, table: str) -> set[str]:
    with db.read() as conn:
        return {c["name"] for c in sa.inspect(conn).get_columns(table)}


def test_0007_links_the_rows_a_release_store_holds(
    empty_settings: Settings, tmp_path: Path, fitted_model: Any
) -> None:
    url = empty_settings.store_url
    ids = _release_store(url, str(tmp_path / "artifacts"), fitted_model)
    before = Database(url, migrate=False)
    try:
        readable = _readable(before)
    finally:
        before.close()

    db = Database(url, migrate=False)
    try:
        with db.schema_write() as conn:  # to 0007 itself: later migrations have their own tests
            run_migrations(conn, "0007")
        assert db.schema_revision() == "0007"
        version = _version_ids(db)
        assert version[("cancer", 1)] != version[("fraud", 1)]  # same number, other model
        expected = {
            "monitor_windows": {
                ids["w_cancer1"]: (version[("cancer", 1)],),
                ids["w_cancer2"]: (version[("cancer", 2)],),
                ids["w_fraud1"]: (version[("fraud", 1)],),
                ids["w_missing"]: (None,),  # cancer/7 was never registered
            },
            "alerts": {
                ids["a_rule"]: (None,),  # a policy rule's alert is about the model
                ids["a_rollout"]: (version[("cancer", 2)],),
                ids["a_missing"]: (None,),
            },
            "deployments": {
                ids["d_canary"]: (version[("cancer", 1)], version[("cancer", 2)]),
                ids["d_first"]: (None, version[("fraud", 1)]),  # no champion to run against
                ids["d_missing"]: (version[("cancer", 1)], None),
            },
            "retrains": {
                ids["r_done"]: (version[("cancer", 1)], version[("cancer", 3)]),
                ids["r_queued"]: (None, None),
                ids["r_missing"]: (None, None),  # champion 6 and candidate 9 do not exist
            },
        }
        assert _links(db) == expected
        assert _readable(db) == readable

        with db.schema_write() as conn:
            run_migrations(conn, "0006", down=True)
        assert db.schema_revision() == "0006"
        for name, links in LINKS.items():
            assert not set(links) & _columns(db, name)
        assert _readable(db) == readable
    finally:
        db.close()

    again = Database(url)
    try:
        assert again.schema_revision() == SCHEMA_HEAD
        assert _links(again) == expected
        assert _readable(again) == readable
        with again.read() as conn:  # the notification still refers to its alert
            assert (
                conn.execute(sa.select(schema.notifications.c.alert_id)).scalar_one()
                == (ids["a_rollout"])
            )
    finally:
        again.close()
