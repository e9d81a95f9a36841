"""Store helpers that need no server: URL handling and UTC timestamps."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from keel.store.database import Database, _normalize_url
from keel.store.schema import UTCDateTime


@pytest.mark.parametrize(
    ("url", "normalized"),
    [
        ("postgresql://u@h/db", "postgresql+psycopg://u@h/db"),
        ("postgres://u@h/db", "postgresql+psycopg://u@h/db"),
        ("postgresql+psycopg://u@h/db", "postgresql+psycopg://u@h/db"),
        ("sqlite:///x.db", "sqlite:///x.db"),
    ],
)
def test_postgresql_urls_use_psycopg(url: str, normalized: str) -> None:
    assert _normalize_url(url) == normalized


def test_safe_url_hides_the_password() -> None:
    db = Database("postgresql://keel:s3cret@db.example:5432/keel", migrate=False)
    try:
        assert "s3cret" not in db.safe_url
        assert db.safe_url.startswith("postgresql+psycopg://keel:")
        assert db.dialect == "postgresql"
    finally:
        db.close()


def test_timestamps_are_stored_as_utc() -> None:
    column = UTCDateTime()
    paris = timezone(timedelta(hours=1))
    stored = column.process_bind_param(datetime(2026, 1, 1, 13, 0, tzinfo=paris), None)
    assert stored == datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
    assert stored is not None and stored.tzinfo == UTC
    naive_from_sqlite = column.process_result_value(datetime(2026, 1, 1, 12, 0), None)
    assert naive_from_sqlite == datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
    assert column.process_bind_param(None, None) is None
    with pytest.raises(ValueError, match="naive"):
        column.process_bind_param(datetime(2026, 1, 1), None)
