"""Notes left during a write reach the after-commit hooks only once it has committed, and a
failing hook never fails the write (the audit checkpoint relies on both), on both back ends."""

from __future__ import annotations

import logging
from typing import Any

import pytest
import sqlalchemy as sa

from keel.store.database import Database, note
from keel.store.schema import cursors


@pytest.fixture
def db(store_url: str):  # type: ignore[no-untyped-def]
    made = Database(store_url)
    yield made
    made.close()


def row(name: str) -> dict[str, Any]:
    import datetime as dt

    return {"name": name, "position": 1, "updated_at": dt.datetime.now(dt.UTC)}


def test_hooks_see_committed_notes_only(db: Database) -> None:
    seen: list[dict[str, Any]] = []
    db.after_commit.append(seen.append)
    with db.write() as conn:
        conn.execute(cursors.insert().values(row("a")))
        note(conn, "head", 1)
        note(conn, "head", 2)  # the later note wins
    assert seen == [{"head": 2}]
    with pytest.raises(RuntimeError), db.write() as conn:
        note(conn, "head", 3)
        raise RuntimeError("rolled back")
    with db.write() as conn:  # the same pooled connection forgot the rolled-back note
        conn.execute(cursors.insert().values(row("b")))
    with db.read() as conn:
        note(conn, "head", 4)  # a read transaction's notes go nowhere
    assert seen == [{"head": 2}]


def test_a_failing_hook_is_logged_and_the_write_stands(
    db: Database, caplog: pytest.LogCaptureFixture
) -> None:
    def broken(notes: dict[str, Any]) -> None:
        raise OSError("disk full")

    later: list[dict[str, Any]] = []
    db.after_commit.extend([broken, later.append])
    with caplog.at_level(logging.WARNING, logger="keel.store"), db.write() as conn:
        conn.execute(cursors.insert().values(row("c")))
        note(conn, "head", 5)
    assert later == [{"head": 5}]
    assert "after-commit hook failed" in caplog.text
    with db.read() as conn:
        assert conn.execute(sa.select(cursors.c.name)).scalars().all() == ["c"]
