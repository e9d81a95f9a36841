"""No import circle anywhere under ``src/keel``: a module never needs, directly or through
others, a module that needs it. Imports inside functions count (they only defer a circle), and
so do imports under ``if TYPE_CHECKING:``: they never run, but a type that names a layer above
is the same tangle as an import of it."""

from __future__ import annotations

import ast
import graphlib
from pathlib import Path

import pytest

SOURCE = Path(__file__).resolve().parents[2] / "src"


def modules() -> dict[str, Path]:
    found = {}
    for path in SOURCE.joinpath("keel").rglob("*.py"):
        name = ".".join(path.relative_to(SOURCE).with_suffix("").parts)
        found[name.removesuffix(".__init__")] = path
    return found


def imported(name: str, path: Path) -> set[str]:
    """Every ``keel`` name ``name`` imports, absolute."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*parts, base] if base else parts)
            names.add(base)
            names.update(f"{base}.{alias.name}" for alias in node.names)
    return {n for n in names if n == "keel" or n.startswith("keel.")}


def graph() -> dict[str, set[str]]:
    """Module -> the modules it imports (a name is the longest module it starts with); a
    module's own packages are left out: importing them is how Python reaches the module."""
    known = modules()

    def module_of(target: str) -> str | None:
        while target and target not in known:
            target = target.rpartition(".")[0]
        return target or None

    edges: dict[str, set[str]] = {}
    for name, path in known.items():
        targets = {module_of(t) for t in imported(name, path)}
        edges[name] = {t for t in targets if t and t != name and not name.startswith(f"{t}.")}
    return edges


def test_the_graph_sees_the_package() -> None:
    edges = graph()
    assert len(edges) > 100
    assert "keel.registry.service" in edges["keel.client"]  # a known import is found


def test_no_module_imports_itself_through_others() -> None:
    try:
        tuple(graphlib.TopologicalSorter(graph()).static_order())
    except graphlib.CycleError as circle:
        pytest.fail(f"import circle: {' -> '.join(circle.args[1])}")


def test_a_circle_would_be_reported() -> None:
    """The client reaches ``keel.errors`` through many modules; were ``keel.errors`` to import
    the client, the check above would name the circle."""
    edges = graph()
    edges["keel.errors"] = {*edges["keel.errors"], "keel.client"}
    with pytest.raises(graphlib.CycleError) as circle:
        tuple(graphlib.TopologicalSorter(edges).static_order())
    assert "keel.client" in circle.value.args[1]
