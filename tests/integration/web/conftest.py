"""The small store of the dashboard's view and HTTP tests (see ``dashboard_store``)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.integration.web.dashboard_store import Built, stored


@pytest.fixture(
    scope="session", params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]
)
def small_store(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Built]:
    """Built once per session and back end, shared by modules: tests only read it."""
    yield from stored(request, tmp_path_factory.mktemp("dashboard"), request.param)


@pytest.fixture(scope="module")
def store_for_actions(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Built]:
    """A SQLite copy of the small store of its own, which a module's tests may change."""
    yield from stored(request, tmp_path_factory.mktemp("dashboard"), "sqlite")
