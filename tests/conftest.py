"""Fixtures that build real objects: stores on SQLite and PostgreSQL, artifact folders, data."""

from __future__ import annotations

import os
import subprocess
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

from keel.client import Client
from keel.settings import Settings
from tests.pg_databases import PG_URL, Databases

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO.parent / "shared" / "data"
PG_ADMIN = "host=127.0.0.1 port=5432 dbname=test user=postgres connect_timeout=3"

# A loaded 2-core CI machine must never fail a test on time: no deadlines, no "too slow" checks,
# and under CI the same examples on every run, so a failure there is reproducible here.
settings.register_profile(
    "keel",
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
    derandomize=os.environ.get("CI", "").lower() in {"1", "true"},
)
settings.load_profile("keel")


@pytest.fixture(scope="session", autouse=True)
def _audit_folder(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """Audit keys and checkpoints (``Settings.audit_dir``, by default under XDG_CONFIG_HOME) go
    to a folder of the session, never the user's ~/.config; subprocesses inherit it."""
    folder = tmp_path_factory.mktemp("config")
    before = os.environ.get("XDG_CONFIG_HOME")
    os.environ["XDG_CONFIG_HOME"] = str(folder)
    yield folder / "keel"
    if before is None:
        os.environ.pop("XDG_CONFIG_HOME", None)
    else:
        os.environ["XDG_CONFIG_HOME"] = before


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The real data sets beside the repository; skipped when absent unless CI requires them."""
    if not SHARED_DATA.is_dir():
        if os.environ.get("KEEL_REQUIRE_SHARED_DATA") == "1":
            pytest.fail(f"KEEL_REQUIRE_SHARED_DATA=1 but {SHARED_DATA} does not exist")
        pytest.skip(f"shared data not found at {SHARED_DATA}")
    return SHARED_DATA


def _run_setup_script(name: str) -> None:
    """Run ``scripts/NAME`` under a lock: the suite's workers may all find the service missing
    at once, and two apt-get installs (or two cluster starts) at once fail."""
    lock = Path(tempfile.gettempdir()) / f"keel-{name}.lock"
    subprocess.run(["flock", str(lock), "bash", str(REPO / "scripts" / name)], check=False)


def _pg_answers() -> bool:
    import psycopg

    try:
        with psycopg.connect(PG_ADMIN):
            return True
    except psycopg.OperationalError:
        return False


@pytest.fixture(scope="session")
def postgres() -> str:
    """PostgreSQL at 127.0.0.1:5432, started (or installed) when down; fails loudly, never skips."""
    if not _pg_answers():
        _run_setup_script("ensure-postgres.sh")
        deadline = time.monotonic() + 30
        while not _pg_answers() and time.monotonic() < deadline:
            time.sleep(0.5)
        if not _pg_answers():
            pytest.fail("PostgreSQL is not reachable at 127.0.0.1:5432 and could not be started")
    return PG_ADMIN


@pytest.fixture(scope="session")
def postgres_databases(postgres: str) -> Iterator[Databases]:
    made = Databases(postgres)
    yield made
    made.close()


@pytest.fixture
def postgres_url(postgres_databases: Databases) -> Iterator[str]:
    """A database of this test's own, already at Keel's schema head, dropped afterwards."""
    url = postgres_databases.take()
    yield url
    postgres_databases.give_back(url)


@pytest.fixture
def empty_postgres_url(postgres: str) -> Iterator[str]:
    """A fresh database with no table at all (for migration tests), dropped afterwards."""
    import psycopg

    name = f"keel_t_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(postgres, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    yield PG_URL.format(db=name)
    with psycopg.connect(postgres, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture(scope="module")
def browser():  # type: ignore[no-untyped-def]
    """Debian's Chromium (installed when missing) driven headless by Playwright.

    Module-scoped: Playwright's sync API keeps an event loop running in this thread while it
    is open, which would break every later test that starts its own (``asyncio.run``).
    """
    if not Path(CHROMIUM).exists():
        _run_setup_script("ensure-chromium.sh")
        if not Path(CHROMIUM).exists():
            pytest.fail(f"{CHROMIUM} is missing and could not be installed")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield launched
        launched.close()


@pytest.fixture
def artifacts_dir(request: pytest.FixtureRequest) -> Path:
    """Where a test keeps what a person may want to look at afterwards (screenshots)."""
    folder = REPO / "test-artifacts" / request.node.name.replace("/", "_")
    folder.mkdir(parents=True, exist_ok=True)
    return folder


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """Every store test runs on both back ends."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'keel.db'}"
    return str(request.getfixturevalue("postgres_url"))


@pytest.fixture
def settings(store_url: str, tmp_path: Path) -> Settings:
    return Settings(store_url=store_url, artifacts=str(tmp_path / "artifacts"), actor="tester")


@pytest.fixture
def client(settings: Settings) -> Iterator[Client]:
    with Client(settings=settings) as made:
        yield made


@pytest.fixture(scope="session")
def cancer_frame():  # type: ignore[no-untyped-def]
    """scikit-learn's bundled breast-cancer data with a ``target`` column (no network needed)."""
    from sklearn.datasets import load_breast_cancer

    features, target = load_breast_cancer(return_X_y=True, as_frame=True)
    return features.assign(target=target)


@pytest.fixture(scope="session")
def fitted_model(cancer_frame):  # type: ignore[no-untyped-def]
    from sklearn.linear_model import LogisticRegression

    features = cancer_frame.drop(columns=["target"])
    return LogisticRegression(max_iter=5000).fit(features, cancer_frame["target"])
