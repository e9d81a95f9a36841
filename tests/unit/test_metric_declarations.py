"""Metric names are declared once, in ``keel.domain.metric_specs``: a literal tuple, list or set
of three or more metric names anywhere else in ``src/keel`` is a second declaration that will
drift from the first, and fails here. Derive the list from the registry instead
(``metric_names(family)``, or a filter over ``METRIC_SPECS``).

``KNOWN`` holds the lists that predate the registry, each with the reason it still stands; its
owner should replace it with a value read from the registry and drop it from here."""

from __future__ import annotations

import ast
from pathlib import Path

from keel.domain.metric_specs import METRIC_SPECS

SOURCE = Path(__file__).resolve().parents[2] / "src" / "keel"
REGISTRY = Path("domain/metric_specs.py")
#: a metric is named by its declared name; estimates also by the metric they estimate
NAMES = {s.name for s in METRIC_SPECS} | {s.name.removeprefix("estimated_") for s in METRIC_SPECS}

#: (module, the names it lists): lists that pick a subset for a purpose the registry does not
#: declare yet
KNOWN = {
    # the columns of `keel evaluate`'s headline table
    ("cli/governance.py", ("accuracy", "balanced_accuracy", "f1", "roc_auc", "pr_auc")),
    # the metrics the paired bootstrap resamples for regressors and multi-class models
    ("evaluation/bootstrap.py", ("mae", "rmse", "mape")),
    ("evaluation/bootstrap.py", ("accuracy", "log_loss", "brier")),
    # the cost figures that depend on the machine's load
    ("evaluation/cost.py", ("latency_p50_ms", "latency_p99_ms", "latency_batch_p50_ms")),
    # what CBPE estimates for binary classifiers (the estimated family without its prefix)
    ("monitoring/estimation.py", ("accuracy", "precision", "recall", "f1", "roc_auc")),
    # the dashboard's version page summary (being reworked with the dashboard)
    ("web/dashboard/version_view.py", ("accuracy", "balanced_accuracy", "f1", "roc_auc")),
}


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
    unexpected = {
        (module, names)
        for module, names in second_declarations()
        if not any(module == k and names[: len(n)] == n for k, n in KNOWN)
    }
    assert not unexpected, (
        "metric names listed outside keel.domain.metric_specs; derive them from it: "
        f"{sorted(unexpected)}"
    )


def test_the_check_finds_a_second_declaration() -> None:
    tree = ast.parse('MINE = ("accuracy", "recall", "rmse")\nOK = ("rows", "accuracy", "f1")')
    assert metric_lists(tree) == [("accuracy", "recall", "rmse")]
