"""Metric names are declared once, in ``keel.domain.metric_specs``: a literal tuple, list or set
of three or more metric names anywhere else in ``src/keel`` is a second declaration that will
drift from the first, and fails here. Derive the list from the registry instead
(``metric_names(family)``, ``shown_in(view)``, or a filter over ``METRIC_SPECS`` by a declared
field such as ``compared``, ``row_mean`` or ``timed``)."""

from __future__ import annotations

import ast
from pathlib import Path

from keel.domain.metric_specs import METRIC_SPECS

SOURCE = Path(__file__).resolve().parents[2] / "src" / "keel"
REGISTRY = Path("domain/metric_specs.py")
#: a metric is named by its declared name; estimates also by the metric they estimate
NAMES = {s.name for s in METRIC_SPECS} | {s.name.removeprefix("estimated_") for s in METRIC_SPECS}


def metric_lists(tree: ast.AST) -> list[tuple[str, ...]]:
    """Every literal tuple, list or set of 3+ strings that are all metric names."""
    found = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Tuple | ast.List | ast.Set):
            continue
        strings = [
            e.value for e in node.elts if isinstance(e, ast.Constant) and isinstance(e.value, str)
        ]
        if len(node.elts) >= 3 and len(strings) == len(node.elts) and set(strings) <= NAMES:
            found.append(tuple(strings))
    return found


def second_declarations() -> set[tuple[str, tuple[str, ...]]]:
    """(module, the first five names listed) for each metric list outside the registry."""
    found = set()
    for path in sorted(SOURCE.rglob("*.py")):
        relative = path.relative_to(SOURCE)
        if relative == REGISTRY:
            continue
        for names in metric_lists(ast.parse(path.read_text(encoding="utf-8"))):
            found.add((relative.as_posix(), names[:5]))
    return found


def test_metric_names_are_declared_only_in_the_registry() -> None:
    unexpected = second_declarations()
    assert not unexpected, (
        "metric names listed outside keel.domain.metric_specs; derive them from it: "
        f"{sorted(unexpected)}"
    )


def test_the_check_finds_a_second_declaration() -> None:
    tree = ast.parse('MINE = ("accuracy", "recall", "rmse")\nOK = ("rows", "accuracy", "f1")')
    assert metric_lists(tree) == [("accuracy", "recall", "rmse")]


def test_the_lists_read_from_the_declarations_keep_their_members() -> None:
    from keel.cli.governance import _HEADLINE
    from keel.evaluation import bootstrap, cost
    from keel.monitoring.estimation import BINARY_METRICS
    from keel.web.dashboard.version_view import SUMMARY_METRICS

    quality = ("accuracy", "balanced_accuracy", "f1", "roc_auc")
    assert (*quality, "pr_auc", "log_loss", "mae", "rmse", "r2") == _HEADLINE
    assert (*quality, "log_loss", "mae", "rmse", "r2") == SUMMARY_METRICS
    assert bootstrap.SUPPORTED_REGRESSION == ("mae", "rmse", "mape")
    assert bootstrap.SUPPORTED_MULTICLASS == ("accuracy", "log_loss", "brier")
    assert "ece" not in bootstrap.SUPPORTED_BINARY and "pr_auc" in bootstrap.SUPPORTED_BINARY
    assert set(cost.TIMED) == {
        f"latency_{kind}_ms" for kind in ("p50", "p99", "batch_p50", "batch_p99")
    }
    assert BINARY_METRICS == ("accuracy", "precision", "recall", "f1", "roc_auc")
