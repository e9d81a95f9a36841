"""Migrations build exactly the tables the code declares, and upgrade stores that hold data."""

from __future__ import annotations

import sqlalchemy as sa
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from keel.client import Client
from keel.settings import Settings
from keel.store.database import SCHEMA_HEAD, Database, _alembic_config
from keel.store.schema import metadata


def test_migrated_schema_matches_the_declared_tables(client: Client) -> None:
    with client.db.engine.connect() as conn:
        differences = compare_metadata(MigrationContext.configure(conn), metadata)
    assert differences == []


def test_a_store_at_the_first_revision_is_upgraded_with_its_data(
    empty_settings: Settings, cancer_frame, fitted_model
) -> None:
    settings = empty_settings
    raw = Database(settings.store_url, migrate=False)
    with raw.engine.begin() as conn:
        command.upgrade(_alembic_config(conn), "0001")
    with raw.engine.begin() as conn:
        conn.execute(
            sa.text(
                "INSERT INTO models (name, description, tags, created_at, latest_version) "
                "VALUES ('old', '', '{}', CURRENT_TIMESTAMP, 0)"
            )
        )
    raw.close()
    with Client(settings=settings) as client:  # opening migrates to the head
        assert client.db.schema_revision() == SCHEMA_HEAD
        assert [m.name for m in client.list_models()] == ["old"]
        snapshot = client.register_snapshot(cancer_frame, "cancer")
        version = client.register_model(
            "old", fitted_model, training_data=snapshot, target="target"
        )
        assert version.version == 1
        assert client.get_policy("old") is None
