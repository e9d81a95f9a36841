"""A SQLite file store for the controller tests that need no PostgreSQL twin."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from keel.client import Client
from keel.settings import Settings


@pytest.fixture
def sqlite_settings(tmp_path: Path) -> Settings:
    return Settings(
        store_url=f"sqlite:///{tmp_path / 'keel.db'}",
        artifacts=str(tmp_path / "artifacts"),
        actor="tester",
    )


@pytest.fixture
def store(sqlite_settings: Settings) -> Iterator[Client]:
    with Client(settings=sqlite_settings) as made:
        yield made
