"""The conformance suite's worlds: per table, one store (SQLite file, artifact folder) shared by
every flavour case (each owns a model named ``<table>-<case>``) and one real ``keel serve`` on
127.0.0.1 that serves them all, started in the background when the table is first used (it
loads each model as it is deployed) and stopped when the package's tests are done.

Each case's stages are run once and remembered (``Loop``), so a stage's test can run alone
(``-k``): it runs the stages before it first. A stage whose test failed makes the later stages
of that case skip, naming it, so a report shows the one stage that failed per case.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from keel.client import Client
from keel.settings import Settings
from tests.conformance.cases import FLAVOURS
from tests.conformance.tables import TABLES
from tests.conformance.world import NOTES, Loop, World


@pytest.fixture(scope="package")
def worlds(
    shared_data: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[dict[str, World]]:
    made: dict[str, World] = {}

    class Worlds(dict[str, World]):
        def __missing__(self, name: str) -> World:
            folder = tmp_path_factory.mktemp(f"conformance-{name}")
            settings = Settings(
                store_url=f"sqlite:///{folder / 'keel.db'}",
                artifacts=str(folder / "artifacts"),
                actor="conformance",
            )
            Client(settings=settings, create=True).close()
            world = World(TABLES[name](shared_data), folder, settings)
            self[name] = made[name] = world
            world.start()
            return world

    yield Worlds()
    for world in made.values():
        world.stop()


@pytest.fixture(scope="package")
def loops(worlds: dict[str, World]) -> dict[tuple[str, str], Loop]:
    class Loops(dict[tuple[str, str], Loop]):
        def __missing__(self, key: tuple[str, str]) -> Loop:
            table, name = key
            case = next(c for c in FLAVOURS if c.name == name)
            self[key] = Loop(worlds[table], case)
            return self[key]

    return Loops()


CASES = [pytest.param((t, c.name), id=f"{t}-{c.name}") for t in TABLES for c in FLAVOURS]


@pytest.fixture(params=CASES)
def loop(request: pytest.FixtureRequest, loops: dict[tuple[str, str], Loop]) -> Loop:
    """One (table, flavour) case."""
    table, name = request.param
    return loops[(table, name)]


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if NOTES:
        terminalreporter.section("conformance notes")
        for model, texts in sorted(NOTES.items()):
            for text in texts:
                terminalreporter.write_line(f"{model}: {text}")
