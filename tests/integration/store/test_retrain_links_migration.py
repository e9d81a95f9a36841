"""Migration 0008 on a store written by the release before it (schema 0007): a retrain's
``deployment_id`` and a version's ``retrain_id`` become foreign keys, the ids that name a row the
store does not have become NULL (and are counted in a warning), the rest is unchanged, and the
store refuses new dangling ids from then on; downgrading and upgrading again does the same.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from alembic import command

from keel.errors import StoreConflict
from keel.registry import models
from keel.settings import Settings
from keel.store import schema
from keel.store.artifacts import FsspecArtifactStore
from keel.store.database import SCHEMA_HEAD, Database, _alembic_config, run_migrations

AT = datetime(2026, 11, 1, tzinfo=UTC)
MISSING = 987_654
#: the constraints migration 0008 adds: table -> (column, referred table)
LINKS = {"retrains": ("deployment_id", "deployments"), "model_versions": ("retrain_id", "retrains")}


def _deployment() -> dict[str, Any]:
    return {
        "model": "cancer",
        "strategy": "canary",
        "stable_version": 1,
        "candidate_version": 2,
        "steps": [5.0, 100.0],
        "step": 1,
        "candidate_weight": 100.0,
        "interval_s": 600.0,
        "sticky": False,
        "limits": {},
        "status": "succeeded",
        "reason": "",
        "analysis": [],
        "created_by": "tester",
        "created_at": AT,
        "updated_at": AT,
        "step_started_at": AT,
        "finished_at": AT,
    }


def _retrain(state: str, deployment_id: int | None) -> dict[str, Any]:
    return {
        "model": "cancer",
        "active_model": None,
        "trigger": "drift",
        "reason": "test",
        "state": state,
        "pipeline_run_id": "a" * 32,
        "candidate_version": None,
        "deployment_id": deployment_id,
        "details": {"champion": 1, "attempts": 0},
        "requested_by": "tester",
        "outcome": state,
        "created_at": AT,
        "updated_at": AT,
        "ended_at": AT,
    }


def _insert(conn: sa.Connection, table: sa.Table, values: dict[str, Any]) -> int:
    return int(conn.execute(table.insert().values(**values).returning(table.c.id)).scalar_one())


def _release_store(url: str, artifacts: str, fitted_model: Any) -> dict[str, int]:
    """A store at 0007 holding retrains and versions that name their deployment and retrain,
    one of each naming a row the store does not have; the ids written, by name."""
    raw = Database(url, migrate=False)
    try:
        with raw.engine.begin() as conn:
            command.upgrade(_alembic_config(conn), "0007")
        store = FsspecArtifactStore(artifacts)
        for _ in range(3):
            models.register(raw, store, "tester", "cancer", fitted_model)
        ids: dict[str, int] = {}
        with raw.write() as conn:
            ids["d_rollout"] = _insert(conn, schema.deployments, _deployment())
            ids["r_deployed"] = _insert(
                conn, schema.retrains, _retrain("succeeded", ids["d_rollout"])
            )
            ids["r_missing"] = _insert(conn, schema.retrains, _retrain("rolled_back", MISSING))
            ids["r_undeployed"] = _insert(conn, schema.retrains, _retrain("rejected", None))
            versions = schema.model_versions
            for number, retrain in [(2, ids["r_deployed"]), (3, MISSING + 1)]:
                conn.execute(
                    versions.update().where(versions.c.version == number).values(retrain_id=retrain)
                )
        return ids
    finally:
        raw.close()


def _rows(db: Database, table: str) -> dict[int, dict[str, Any]]:
    """Every row of ``table`` as a mapping of its columns, by id."""
    with db.read() as conn:
        found = conn.execute(sa.select(schema.metadata.tables[table])).mappings().all()
    return {int(row["id"]): dict(row) for row in found}


def _without_link(rows: dict[int, dict[str, Any]], table: str) -> dict[int, dict[str, Any]]:
    column = LINKS[table][0]
    return {key: {k: v for k, v in row.items() if k != column} for key, row in rows.items()}


def _links(db: Database) -> dict[str, dict[int, Any]]:
    """The two link columns of every row, by table and row id (versions by number)."""
    retrains = _rows(db, "retrains")
    versions = _rows(db, "model_versions")
    return {
        "retrains": {key: row["deployment_id"] for key, row in retrains.items()},
        "model_versions": {row["version"]: row["retrain_id"] for row in versions.values()},
    }


def _foreign_keys(db: Database, table: str) -> set[tuple[str, str, str | None]]:
    """(column, referred table, ON DELETE) of each foreign key of ``table``."""
    with db.read() as conn:
        found = sa.inspect(conn).get_foreign_keys(table)
    return {
        (fk["constrained_columns"][0], fk["referred_table"], fk.get("options", {}).get("ondelete"))
        for fk in found
    }


def _refuses_dangling_ids(db: Database, ids: dict[str, int]) -> None:
    retrains, versions, deployments = schema.retrains, schema.model_versions, schema.deployments
    with pytest.raises(StoreConflict), db.write() as conn:
        conn.execute(
            retrains.update()
            .where(retrains.c.id == ids["r_undeployed"])
            .values(deployment_id=MISSING)
        )
    with pytest.raises(StoreConflict), db.write() as conn:
        conn.execute(versions.update().where(versions.c.version == 1).values(retrain_id=MISSING))
    with pytest.raises(StoreConflict), db.write() as conn:  # a version's retrain stays
        conn.execute(retrains.delete().where(retrains.c.id == ids["r_deployed"]))
    with pytest.raises(StoreConflict), db.write() as conn:  # a retrain's deployment stays
        conn.execute(deployments.delete().where(deployments.c.id == ids["d_rollout"]))


def test_0008_links_retrains_and_versions_a_release_store_holds(
    empty_settings: Settings, tmp_path: Path, fitted_model: Any, caplog: pytest.LogCaptureFixture
) -> None:
    url = empty_settings.store_url
    ids = _release_store(url, str(tmp_path / "artifacts"), fitted_model)
    before = Database(url, migrate=False)
    try:
        retrains_before, versions_before = (
            _rows(before, "retrains"),
            _rows(before, "model_versions"),
        )
    finally:
        before.close()

    with caplog.at_level(logging.WARNING, logger="keel.store"):
        db = Database(url)  # opening upgrades the store to the head
    try:
        assert db.schema_revision() == SCHEMA_HEAD
        warnings = [r.getMessage() for r in caplog.records if "migration 0008" in r.getMessage()]
        assert warnings == [
            "migration 0008: 1 retrains row(s) named a deployments row the store does not "
            "have; their deployment_id is now NULL",
            "migration 0008: 1 model_versions row(s) named a retrains row the store does not "
            "have; their retrain_id is now NULL",
        ]
        expected = {
            "retrains": {
                ids["r_deployed"]: ids["d_rollout"],
                ids["r_missing"]: None,  # its deployment was never written
                ids["r_undeployed"]: None,
            },
            "model_versions": {1: None, 2: ids["r_deployed"], 3: None},
        }
        assert _links(db) == expected
        assert _without_link(_rows(db, "retrains"), "retrains") == _without_link(
            retrains_before, "retrains"
        )
        assert _without_link(_rows(db, "model_versions"), "model_versions") == _without_link(
            versions_before, "model_versions"
        )
        for table, (column, referred) in LINKS.items():
            assert (column, referred, "RESTRICT") in _foreign_keys(db, table)
        with db.read() as conn:  # SQLite rebuilt the table: its unique index came along
            indexes = sa.inspect(conn).get_indexes("model_versions")
        assert any(i["name"] == "uq_model_versions_retrain_id" and i["unique"] for i in indexes)
        _refuses_dangling_ids(db, ids)

        with db.schema_write() as conn:
            run_migrations(conn, "0007", down=True)
        assert db.schema_revision() == "0007"
        for table, (column, referred) in LINKS.items():
            assert not {fk for fk in _foreign_keys(db, table) if fk[:2] == (column, referred)}
        assert _links(db) == expected
    finally:
        db.close()

    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="keel.store"):
        again = Database(url)
    try:
        assert again.schema_revision() == SCHEMA_HEAD
        assert not [r for r in caplog.records if "migration 0008" in r.getMessage()]
        assert _links(again) == expected
        for table, (column, referred) in LINKS.items():
            assert (column, referred, "RESTRICT") in _foreign_keys(again, table)
    finally:
        again.close()
