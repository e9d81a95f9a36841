"""Fixtures shared by integration tests of several packages."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from rich.console import Console


@pytest.fixture(scope="session")
def demo_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Any, Path, Any, Any]:
    """The closed-loop demo on a shortened lending scenario, run once per session: its store
    (``folder / "store"``) is what the demo tests check and what the dashboard tests show.
    Tests that change the store work on a copy."""
    from keel.demo.closed_loop import run_closed_loop
    from keel.demo.lending import Scenario
    from keel.demo.world import lending_world

    scenario = Scenario(months=6, applications_per_month=1200, shock_month=1, segment_month=3)
    world = lending_world(scenario, history_rows=3000)
    folder = tmp_path_factory.mktemp("demo")
    with open(folder / "console.txt", "w") as out:
        summary, page = run_closed_loop(world, folder / "store", Console(file=out, width=200))
    return world, folder, summary, page
