"""Opening the metadata store: migrations on open, schema checks, foreign errors translated."""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa

from keel.client import Client
from keel.errors import InvalidInput, SchemaTooNew, StoreUnavailable
from keel.settings import Settings
from keel.store.database import SCHEMA_HEAD, Database, known_revisions, migration_head
from keel.store.schema import metadata


def test_the_newest_migration_is_the_head_keel_expects() -> None:
    assert migration_head() == SCHEMA_HEAD
    assert SCHEMA_HEAD in known_revisions()


def test_opening_creates_every_table_at_the_head_revision(empty_settings: Settings) -> None:
    with Client(settings=empty_settings) as client:
        assert client.db.schema_revision() == SCHEMA_HEAD
        tables = set(sa.inspect(client.db.engine).get_table_names())
    assert set(metadata.tables) <= tables


def test_opening_again_is_a_no_op(settings: Settings) -> None:
    for _ in range(2):
        with Client(settings=settings) as again:
            assert again.db.schema_revision() == SCHEMA_HEAD
            assert again.verify_audit().intact


def test_a_store_from_a_newer_keel_is_refused(client: Client, settings: Settings) -> None:
    with client.db.engine.begin() as conn:
        conn.execute(sa.text("UPDATE alembic_version SET version_num = '9999'"))
    with pytest.raises(SchemaTooNew) as caught:
        Client(settings=settings)
    assert caught.value.fields["found"] == "9999"
    assert caught.value.fields["supported"] == SCHEMA_HEAD
    assert caught.value.code == "schema_too_new"


def test_migrate_false_leaves_an_empty_database_alone(tmp_path: Path) -> None:
    db = Database(f"sqlite:///{tmp_path / 'empty.db'}", migrate=False)
    try:
        assert db.schema_revision() is None
        db.migrate()
        assert db.schema_revision() == SCHEMA_HEAD
    finally:
        db.close()


def test_sqlite_runs_in_wal_mode(tmp_path: Path) -> None:
    db = Database(f"sqlite:///{tmp_path / 'wal.db'}")
    try:
        with db.read() as conn:
            assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
            assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
    finally:
        db.close()


def test_sqlite_folder_is_created(tmp_path: Path) -> None:
    db = Database(f"sqlite:///{tmp_path / 'a' / 'b' / 'keel.db'}")
    db.close()
    assert (tmp_path / "a" / "b" / "keel.db").is_file()


def test_in_memory_sqlite_works() -> None:
    db = Database("sqlite://")
    try:
        assert db.schema_revision() == SCHEMA_HEAD
    finally:
        db.close()


@pytest.mark.postgres
def test_plain_postgresql_urls_use_psycopg(postgres_url: str) -> None:
    plain = postgres_url.replace("postgresql+psycopg://", "postgresql://")
    db = Database(plain)
    try:
        assert db.url.startswith("postgresql+psycopg://")
        assert db.schema_revision() == SCHEMA_HEAD
    finally:
        db.close()


@pytest.mark.parametrize("url", ["not a url", "mysql://u@h/db", "oracle://h/db"])
def test_unsupported_urls_raise_invalid_input(url: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        Database(url)
    assert caught.value.field == "store_url"


@pytest.mark.postgres
def test_an_unreachable_server_raises_store_unavailable_without_the_password() -> None:
    with pytest.raises(StoreUnavailable) as caught:
        Database("postgresql://keel:s3cret@127.0.0.1:1/keel?connect_timeout=2")
    assert "s3cret" not in str(caught.value)
    assert "s3cret" not in str(caught.value.to_dict())
    assert caught.value.code == "store_unavailable"


@pytest.mark.parametrize("number", [2**63, 10**20, -(2**64)])
def test_a_number_the_store_cannot_hold_is_invalid_input_on_every_back_end(
    client: Client, number: int
) -> None:
    """A limit, id or version beyond 64 bits is the caller's mistake (exit 2, HTTP 422), not an
    OverflowError from SQLite's driver or a PostgreSQL error reported as an unavailable store."""
    from keel.store.schema import audit_log

    with pytest.raises(InvalidInput, match="limit"):
        client.list_runs(limit=number)
    with pytest.raises(InvalidInput), client.db.read() as conn:
        conn.execute(sa.select(audit_log.c.seq).where(audit_log.c.seq == number)).first()
