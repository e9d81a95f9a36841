"""Stores that start with no table at all, for the tests of migrations themselves (the shared
``settings`` fixture hands PostgreSQL tests a database already at the schema head)."""

from __future__ import annotations

from pathlib import Path

import pytest

from keel.settings import Settings


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def empty_settings(request: pytest.FixtureRequest, tmp_path: Path) -> Settings:
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'keel.db'}"
    else:
        url = str(request.getfixturevalue("empty_postgres_url"))
    return Settings(store_url=url, artifacts=str(tmp_path / "artifacts"), actor="tester")
