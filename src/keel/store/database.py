"""Opening the metadata database: engine set-up, migrations on open, transactions.

SQLite (the embedded default) runs in WAL mode; write transactions start with ``BEGIN IMMEDIATE``
so concurrent writers queue instead of failing half-way. PostgreSQL uses row locks taken by the
registry. Foreign database errors are turned into Keel errors here and nowhere else.
"""

from __future__ import annotations

import contextlib
import logging
import sqlite3
import threading
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy import exc as sa_exc
from sqlalchemy.engine import Connection, Engine, make_url
from sqlalchemy.pool import StaticPool

from keel.errors import (
    InvalidInput,
    SchemaTooNew,
    StoreConflict,
    StoreNotFound,
    StoreUnavailable,
)

#: the newest migration this Keel knows; a store at another known revision is upgraded on open
SCHEMA_HEAD = "0009"
_MIGRATION_LOCK_KEY = 0x6B65656C  # "keel": PostgreSQL advisory lock held while migrating
_MIGRATIONS = Path(__file__).with_name("migrations")
_NOTES = "keel.after_commit_notes"


def _json_dumps(value: Any) -> str:
    import orjson

    try:
        return orjson.dumps(value).decode()
    except TypeError:  # integers beyond 64 bits and other rarities: the standard library copes
        import json

        return json.dumps(value)


def _json_loads(text: str | bytes) -> Any:
    import orjson

    return orjson.loads(text)


#: orjson reads JSON columns several times faster than the standard library (listings of
#: thousands of versions spend most of their time there)
_JSON_CODEC: dict[str, Any] = {"json_serializer": _json_dumps, "json_deserializer": _json_loads}


def _prepare_sqlite_file(path: Path, create: bool) -> bool:
    """Make the folder of a new SQLite file when ``create``; True when the file is new."""
    if path.exists():
        return False
    if not create:
        raise StoreNotFound(str(path.absolute()), hint=NO_STORE_HINT)
    path.parent.mkdir(parents=True, exist_ok=True)
    return True


#: what to do about a store that is not there
NO_STORE_HINT = (
    "check --store / KEEL_STORE_URL, or create the store by registering a model or a dataset "
    "(`keel models register`, `keel datasets register`, keel.Client())"
)


def _normalize_url(url: str) -> str:
    """Accept ``postgresql://`` as well as ``postgresql+psycopg://`` (psycopg 3 is our driver)."""
    if url.startswith(("postgresql://", "postgres://")):
        return "postgresql+psycopg://" + url.split("://", 1)[1]
    return url


class Database:
    """One metadata store: an engine plus the rules for reading and writing it.

    A SQLite file that does not exist yet is created (with its folder) only when ``create`` is
    true, and ``created`` then says so; otherwise opening it raises StoreNotFound, so a mistyped
    path is reported instead of answered from a new, empty store. A PostgreSQL database exists or
    not; Keel never creates one.
    """

    def __init__(self, url: str, *, migrate: bool = True, create: bool = True) -> None:
        self.url = _normalize_url(url)
        self.created = False
        try:
            parsed = make_url(self.url)
        except sa_exc.ArgumentError as exc:
            raise InvalidInput("store_url", f"{url!r} is not a database URL") from exc
        self.dialect = parsed.get_backend_name()
        if self.dialect not in ("sqlite", "postgresql"):
            raise InvalidInput(
                "store_url", f"{url!r}: Keel stores metadata in SQLite or PostgreSQL"
            )
        self.engine = self._create_engine(parsed, create)
        self._lock = threading.Lock()
        self._append_sql: dict[tuple[str, tuple[str, ...]], tuple[str, list[Any]]] = {}
        #: called with a committed write's notes (see ``note``), e.g. to checkpoint the audit head
        self.after_commit: list[Callable[[dict[str, Any]], None]] = []
        if migrate:
            try:
                self.migrate()
            except BaseException:
                self.engine.dispose()  # a store we refuse to open keeps no connection open
                raise

    # -- engine -------------------------------------------------------------------------------
    def _create_engine(self, parsed: sa.URL, create: bool) -> Engine:
        if self.dialect == "postgresql":
            return sa.create_engine(
                parsed, pool_pre_ping=True, pool_size=5, max_overflow=10, **_JSON_CODEC
            )
        database = parsed.database
        kwargs: dict[str, Any] = {}
        if not database or database == ":memory:":
            kwargs = {"poolclass": StaticPool, "connect_args": {"check_same_thread": False}}
        else:
            self.created = _prepare_sqlite_file(Path(database).expanduser(), create)
            kwargs = {"connect_args": {"timeout": 60, "check_same_thread": False}}
        engine = sa.create_engine(parsed, **kwargs, **_JSON_CODEC)

        @event.listens_for(engine, "connect")
        def _on_connect(dbapi_connection: Any, _record: Any) -> None:
            dbapi_connection.isolation_level = None  # we issue BEGIN ourselves
            cursor = dbapi_connection.cursor()
            if database and database != ":memory:":
                cursor.execute("PRAGMA journal_mode=WAL")
                # reading pages through a memory map halves the time of large listings
                cursor.execute("PRAGMA mmap_size=268435456")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA busy_timeout=60000")
            cursor.close()

        @event.listens_for(engine, "begin")
        def _on_begin(conn: Connection) -> None:
            if conn.get_execution_options().get("keel_write"):
                conn.exec_driver_sql("BEGIN IMMEDIATE")
            else:
                conn.exec_driver_sql("BEGIN")

        return engine

    def close(self) -> None:
        self.engine.dispose()

    # -- transactions -------------------------------------------------------------------------
    @contextlib.contextmanager
    def write(self) -> Iterator[Connection]:
        """A write transaction: committed when the block ends, rolled back on any error.

        Notes left with :func:`note` during the transaction go to the ``after_commit`` hooks
        once it has committed (never when it rolled back).
        """
        notes: dict[str, Any] | None = None
        with self._translate(), self.engine.connect() as conn:
            conn = conn.execution_options(keel_write=True)
            conn.info.pop(_NOTES, None)  # a pooled connection forgets an earlier rollback's notes
            try:
                with conn.begin():
                    yield conn
                notes = conn.info.get(_NOTES)
            finally:
                conn.info.pop(_NOTES, None)
        if notes:
            self._after_commit(notes)

    def _after_commit(self, notes: dict[str, Any]) -> None:
        """Run the hooks; one that fails is logged, never raised: the write has committed."""
        for hook in list(self.after_commit):
            try:
                hook(notes)
            except Exception:
                logging.getLogger("keel.store").warning(
                    "an after-commit hook failed for %s", self.safe_url, exc_info=True
                )

    @contextlib.contextmanager
    def read(self) -> Iterator[Connection]:
        """A read-only transaction with a consistent view.

        PostgreSQL's default (READ COMMITTED) takes a new snapshot per statement, so a reader
        running several statements could see a writer's commit half-way (e.g. the audit head
        before, and its new entries after, a registration); REPEATABLE READ gives one snapshot.
        """
        with self._translate(), self.engine.connect() as conn:
            if self.dialect == "postgresql":
                conn = conn.execution_options(isolation_level="REPEATABLE READ")
            with conn.begin():
                yield conn

    @contextlib.contextmanager
    def _translate(self) -> Iterator[None]:
        try:
            yield
        except sa_exc.IntegrityError as exc:
            raise StoreConflict(
                f"the store refused a duplicate or dangling record: {exc.orig}",
                detail=str(exc.orig),
            ) from exc
        except sa_exc.DataError as exc:  # PostgreSQL: a number out of range, a malformed value
            raise InvalidInput("value", f"the store refused a value: {exc.orig}") from exc
        except OverflowError as exc:  # SQLite's driver: an integer beyond 64 bits
            raise InvalidInput(
                "value", f"a number is larger than the store can hold (2**63 - 1): {exc}"
            ) from exc
        except (sa_exc.OperationalError, sa_exc.InterfaceError) as exc:
            raise StoreUnavailable(
                f"the metadata store at {self.safe_url} could not be used: {exc.orig}",
                url=self.safe_url,
            ) from exc
        except sa_exc.DBAPIError as exc:
            raise StoreUnavailable(
                f"the metadata store at {self.safe_url} answered with an error: {exc.orig}",
                url=self.safe_url,
            ) from exc

    def append(self, table: sa.Table, rows: list[dict[str, Any]]) -> None:
        """Insert rows into an append-only table in one committed transaction, on the shortest
        path the driver offers (a pre-rendered INSERT, no statement compilation per call): logging
        one metric costs a few tens of microseconds plus the commit."""
        if not rows:
            return
        if self.dialect != "sqlite":  # a server round trip and commit dwarf the compilation
            with self.write() as conn:
                conn.execute(table.insert(), rows)
            return
        columns = list(rows[0])
        statement = self._append_sql.get((table.name, tuple(columns)))
        if statement is None:
            compiled = (
                table.insert()
                .values({c: sa.bindparam(c) for c in columns})
                .compile(dialect=self.engine.dialect)
            )
            processors = compiled._bind_processors
            order = compiled.positiontup or columns  # SQLite's paramstyle is positional
            statement = (str(compiled), [(c, processors.get(c)) for c in order])
            self._append_sql[(table.name, tuple(columns))] = statement
        sql, binds = statement
        values = [
            tuple(process(row[c]) if process else row[c] for c, process in binds) for row in rows
        ]
        with self._translate(), self.engine.connect() as conn:
            conn = conn.execution_options(keel_write=True)
            with conn.begin():
                conn.exec_driver_sql(sql, values if len(values) > 1 else values[0])

    @property
    def safe_url(self) -> str:
        return make_url(self.url).render_as_string(hide_password=True)

    # -- schema -------------------------------------------------------------------------------
    def migrate(self) -> None:
        """Bring the schema to SCHEMA_HEAD, once, even when several processes open at once."""
        with self.schema_write() as conn:
            if self.dialect == "postgresql":
                conn.execute(
                    sa.text("SELECT pg_advisory_xact_lock(:k)"), {"k": _MIGRATION_LOCK_KEY}
                )
            current = self._current_revision(conn)
            if current == SCHEMA_HEAD:
                return
            if current is not None and current not in known_revisions():
                raise SchemaTooNew(self.safe_url, current, SCHEMA_HEAD)
            run_migrations(conn, SCHEMA_HEAD)

    @contextlib.contextmanager
    def schema_write(self) -> Iterator[Connection]:
        """A write transaction that may change the schema (migrations run in one).

        SQLite changes a table's constraints by rebuilding it (Alembic's batch mode copies the
        table, drops it and renames the copy) and refuses to drop a table other rows refer to
        while foreign keys are enforced. So on SQLite they are not enforced during this
        transaction (SQLite's own procedure for schema changes; the setting cannot change inside
        a transaction, so it is switched on the connection before it begins and back after);
        ``run_migrations`` checks them before the transaction commits.
        """
        if self.dialect != "sqlite":
            with self.write() as conn:
                yield conn
            return
        with self._translate(), self.engine.connect() as conn:
            raw = conn.connection.dbapi_connection
            assert raw is not None
            raw.execute("PRAGMA foreign_keys=OFF")
            try:
                conn = conn.execution_options(keel_write=True)
                with conn.begin():
                    yield conn
            finally:
                try:
                    raw.execute("PRAGMA foreign_keys=ON")
                except sqlite3.Error:
                    conn.invalidate()  # never back in the pool without enforcement

    def schema_revision(self) -> str | None:
        with self.read() as conn:
            return self._current_revision(conn)

    @staticmethod
    def _current_revision(conn: Connection) -> str | None:
        if not sa.inspect(conn).has_table("alembic_version"):
            return None
        row = conn.execute(sa.text("SELECT version_num FROM alembic_version")).first()
        return None if row is None else str(row[0])


def _alembic_config(conn: Connection | None = None) -> Any:
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(_MIGRATIONS))
    if conn is not None:
        config.attributes["connection"] = conn
    return config


def known_revisions() -> set[str]:
    from alembic.script import ScriptDirectory

    script = ScriptDirectory.from_config(_alembic_config())
    return {rev.revision for rev in script.walk_revisions()}


def migration_head() -> str:
    from alembic.script import ScriptDirectory

    head = ScriptDirectory.from_config(_alembic_config()).get_current_head()
    assert head is not None
    return head


def run_migrations(conn: Connection, revision: str, *, down: bool = False) -> None:
    """Upgrade (or with ``down``, downgrade) the schema to ``revision`` in ``conn``, a
    ``Database.schema_write`` transaction. On SQLite, where that transaction does not enforce
    foreign keys, StoreConflict when the migrations left a reference dangling that was not
    dangling before (the transaction then rolls back)."""
    from alembic import command

    before = _dangling(conn)
    if down:
        command.downgrade(_alembic_config(conn), revision)
    else:
        command.upgrade(_alembic_config(conn), revision)
    added = _dangling(conn) - before
    if added:
        where = ", ".join(f"{n} in {table} (to {parent})" for (table, parent), n in added.items())
        raise StoreConflict(
            f"migrating to {revision} would leave references dangling: {where}", detail=where
        )


def _dangling(conn: Connection) -> Counter[tuple[str, str]]:
    """SQLite: how many rows of each table refer to a missing row of each parent table
    (PostgreSQL enforces foreign keys throughout, so it has none)."""
    if conn.dialect.name != "sqlite":
        return Counter()
    return Counter(
        (str(row[0]), str(row[2])) for row in conn.exec_driver_sql("PRAGMA foreign_key_check")
    )


def note(conn: Connection, key: str, value: Any) -> None:
    """Leave ``value`` under ``key`` for the ``after_commit`` hooks of this write transaction
    (a later note under the same key replaces it)."""
    conn.info.setdefault(_NOTES, {})[key] = value


def insert_ignore(
    conn: Connection, table: sa.Table, values: dict[str, Any], keys: list[str]
) -> None:
    """INSERT that does nothing when a row with the same ``keys`` exists (races included)."""
    if conn.dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as pg_insert

        conn.execute(pg_insert(table).values(**values).on_conflict_do_nothing(index_elements=keys))
    else:
        from sqlalchemy.dialects.sqlite import insert as sqlite_insert

        conn.execute(
            sqlite_insert(table).values(**values).on_conflict_do_nothing(index_elements=keys)
        )
