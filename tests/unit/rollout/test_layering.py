"""Rollout is the control plane: it reads what serving logged but never imports serving, the
faces (cli, web) or the layers that drive it (controller, pipelines)."""

from __future__ import annotations

import ast
from pathlib import Path

import keel.rollout

#: ``stores``: the opened stores (``keel.stores``) the ``Rollouts`` service is built over
ALLOWED = {
    "domain",
    "errors",
    "evaluation",
    "monitoring",
    "registry",
    "rollout",
    "store",
    "stores",
}


def _keel_layers(path: Path) -> set[str]:
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        names = (
            [node.module]
            if isinstance(node, ast.ImportFrom) and node.module
            else [a.name for a in node.names]
            if isinstance(node, ast.Import)
            else []
        )
        found |= {n.split(".")[1] for n in names if n.startswith("keel.")}
    return found


def test_rollout_imports_only_the_layers_below_it() -> None:
    folder = Path(keel.rollout.__file__).parent
    modules = sorted(folder.glob("*.py"))
    assert len(modules) >= 9
    for module in modules:
        assert _keel_layers(module) <= ALLOWED, module.name
        assert len(module.read_text(encoding="utf-8").splitlines()) <= 400, module.name
