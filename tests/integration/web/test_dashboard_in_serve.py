"""The dashboard as ``keel serve`` mounts it: over the serving app's own open stores and token
gate, so the process holds one database engine (one connection pool), and closing the
dashboard closes nothing the serving app still uses."""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from typing import Any

import pytest
import sqlalchemy as sa
from fastapi import FastAPI
from starlette.exceptions import StarletteDeprecationWarning
from starlette.routing import Mount

with warnings.catch_warnings():  # Starlette asks for httpx2 on import; httpx is what we have
    warnings.simplefilter("ignore", StarletteDeprecationWarning)
    from fastapi.testclient import TestClient

from keel.cli import serve
from keel.web.dashboard import create_dashboard
from keel.web.dashboard.state import dashboard_of
from tests.integration.web.dashboard_store import Built

pytestmark = pytest.mark.parametrize("small_store", ["sqlite"], indirect=True)


@pytest.fixture
def engines(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[Any]]:
    """Every SQLAlchemy engine created while the test runs."""
    made: list[Any] = []
    create = sa.create_engine

    def counted(*args: Any, **kwargs: Any) -> Any:
        engine = create(*args, **kwargs)
        made.append(engine)
        return engine

    monkeypatch.setattr(sa, "create_engine", counted)
    yield made


@pytest.fixture
def served(small_store: Built, monkeypatch: pytest.MonkeyPatch) -> FastAPI:
    """The app ``keel serve`` runs in each worker, over the small store (no prediction log)."""
    monkeypatch.setenv("KEEL_STORE_URL", small_store.settings.store_url)
    monkeypatch.setenv("KEEL_ARTIFACTS", small_store.settings.artifacts)
    monkeypatch.setenv(serve.ENV_LOG, "0")
    return serve.app_factory()


def mounted_dashboard(app: FastAPI) -> Any:
    return next(r.app for r in app.routes if isinstance(r, Mount) and r.path == "/ui")


def test_keel_serve_and_its_dashboard_share_one_engine(
    small_store: Built, engines: list[Any], served: FastAPI
) -> None:
    with TestClient(served) as browser:
        for path in ["/ui/", "/ui/models/risk", "/ui/models/risk/versions/3", "/ui/audit"]:
            answer = browser.get(path)
            assert answer.status_code == 200, (path, answer.text[:300])
        assert browser.get("/v1/models").status_code == 200
        assert len(engines) == 1
        board = dashboard_of(mounted_dashboard(served))
        assert board.services.stores is served.state.keel.stores
        assert board.services.stores.db.engine is engines[0]


def test_closing_the_borrowing_dashboard_leaves_the_servers_stores_open(
    small_store: Built, engines: list[Any], served: FastAPI
) -> None:
    with TestClient(served) as browser:
        dashboard_of(mounted_dashboard(served)).close()
        assert browser.get("/ui/models/risk").status_code == 200
        assert browser.get("/v1/models").status_code == 200
    assert len(engines) == 1


def test_a_dashboard_on_its_own_opens_an_engine_of_its_own(
    small_store: Built, engines: list[Any]
) -> None:
    """What the count above tells apart: a dashboard not told it is inside a serving app
    opens its own client, and so a second pool beside the server's."""
    app = create_dashboard(small_store.settings)
    try:
        assert len(engines) == 1
    finally:
        dashboard_of(app).close()


def test_a_page_asked_for_before_the_server_started_is_a_503_not_a_sign_in(
    served: FastAPI,
) -> None:
    """Until the serving app has opened its stores the dashboard has nothing to read or to
    check a token against: it says so with 503 (try again), not with a sign-in page."""
    early = TestClient(served)  # no lifespan: the serving app has not started
    for path in ["/ui/", "/ui/models/risk", "/ui/audit"]:
        answer = early.get(path)
        assert answer.status_code == 503, (path, answer.status_code, answer.text[:200])
        assert "starting" in answer.json()["message"]
