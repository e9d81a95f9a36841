"""The dashboard is a door: it reads and acts through the services, never the store. No module
under ``keel/web/dashboard`` imports SQLAlchemy or ``keel.store`` (its tables, its database),
and none reaches for a ``.db`` attribute, so each service keeps its tables to itself."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

DASHBOARD = Path(__file__).resolve().parents[2] / "src" / "keel" / "web" / "dashboard"
FORBIDDEN = ("sqlalchemy", "keel.store")


def crossings(source: str) -> list[str]:
    """What ``source`` does that only the services may: each forbidden import and each
    ``.db`` it touches, with its line."""
    found = []
    for node in ast.walk(ast.parse(source)):
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [node.module, *(f"{node.module}.{alias.name}" for alias in node.names)]
        for name in names:
            if any(name == banned or name.startswith(f"{banned}.") for banned in FORBIDDEN):
                found.append(f"line {node.lineno}: imports {name}")
        if isinstance(node, ast.Attribute) and node.attr == "db":
            found.append(f"line {node.lineno}: touches .db")
    return sorted(set(found))


def test_the_dashboard_has_modules_to_check() -> None:
    names = {path.name for path in DASHBOARD.glob("*.py")}
    assert {"overview.py", "model_view.py", "version_view.py", "drift_view.py"} <= names
    assert {"audit_view.py", "pages.py", "app.py", "actions.py", "state.py"} <= names


@pytest.mark.parametrize("path", sorted(DASHBOARD.glob("*.py")), ids=lambda p: p.name)
def test_no_dashboard_module_reaches_past_the_services(path: Path) -> None:
    assert crossings(path.read_text(encoding="utf-8")) == []


@pytest.mark.parametrize(
    ("source", "crossing"),
    [
        ("import sqlalchemy as sa", "line 1: imports sqlalchemy"),
        ("from sqlalchemy.engine import Row", "line 1: imports sqlalchemy.engine"),
        ("from keel.store.schema import models", "line 1: imports keel.store.schema"),
        ("from keel.store import database", "line 1: imports keel.store"),
        ("def f():\n    import keel.store.database", "line 2: imports keel.store.database"),
        ("rows = board.client.db", "line 1: touches .db"),
        ("with stores.db.read() as conn:\n    pass", "line 1: touches .db"),
    ],
)
def test_a_crossing_would_be_reported(source: str, crossing: str) -> None:
    assert crossing in crossings(source)


def test_the_services_and_their_stores_are_not_crossings() -> None:
    source = "from keel.stores import Stores\nfrom keel.services import Services\nx = s.dbx"
    assert crossings(source) == []
