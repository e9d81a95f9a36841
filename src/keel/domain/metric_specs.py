"""Every metric Keel knows, declared once: its family, which way is better, whether it is compared
with the champion, what it needs, where a stored monitoring window keeps it, and a human label.

Evaluation (``keel.evaluation.metric_functions`` registers one computation per name), monitoring
(realized metrics and window readers), the alert-rule grammar, policies' gates and the serving
gauges read these declarations instead of keeping their own lists, so a metric added here is
known everywhere at once and a name cannot mean two things.

>>> spec = metric_spec("brier")
>>> spec.family, spec.higher_is_better, spec.needs
('classification', False, ('labels', 'scores'))
>>> metric_names("regression")
('mae', 'rmse', 'r2', 'mape')
>>> drift = {"features": ["a", "b"], "drifted": ["b"]}
>>> metric_spec("drift_share").window.read_from({"drift": drift})
0.5
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from keel.errors import InvalidInput

__all__ = [
    "METRIC_SPECS",
    "Family",
    "MetricSpec",
    "RuleFamily",
    "View",
    "WindowValue",
    "find_metric",
    "metric_names",
    "metric_spec",
    "shown_in",
]

#: what a metric measures: offline quality (classification, regression), the model's cost, a
#: label-free estimate, drift, serving operations, or a streaming detector over labelled rows
Family = Literal[
    "classification", "regression", "cost", "estimated", "drift", "operations", "stream"
]
#: the alert-rule families (``keel.domain.alert_rules``): how a rule observes a metric
RuleFamily = Literal["realized", "estimated", "drift", "operations"]
#: what computing a metric takes beyond the model's predictions
Need = Literal["labels", "scores"]
#: the default views a face shows a metric in: ``keel evaluate``'s table, the dashboard version
#: page's evaluation summary, and a monitoring window's health at a glance (the dashboard's
#: models and model pages)
View = Literal["evaluation_table", "version_summary", "window_health"]
#: the JSON columns of a stored monitoring window (``monitor_windows``)
WindowColumn = Literal["performance", "estimate", "drift", "operations"]
#: how the value at a window location becomes a number: as it is, the length of a list, a list's
#: length over another list's, or whether a fact is present
Reading = Literal["number", "count", "share", "flag"]

_RULE_FAMILIES: dict[Family, RuleFamily | None] = {
    "classification": "realized",
    "regression": "realized",
    "stream": "realized",
    "estimated": "estimated",
    "drift": "drift",
    "operations": "operations",
    "cost": None,
}


@dataclass(frozen=True)
class WindowValue:
    """Where a metric sits in a stored monitoring window: ``column``, then the keys of ``path``.

    A missing column reads as an empty mapping; a missing mapping on the way reads as None (not
    measured). ``count`` and ``flag`` read a missing last key as 0, so "no drifted feature"
    and "not yet measured" stay apart; ``share`` divides by the length of the sibling ``per``
    and is None when that is empty.
    """

    column: WindowColumn
    path: tuple[str, ...]
    reading: Reading = "number"
    per: str | None = None

    def read(self, window: Any) -> float | None:
        """The value in a window row (read by attribute, as SQLAlchemy rows are)."""
        return self.read_from({self.column: getattr(window, self.column, None)})

    def read_from(self, columns: Mapping[str, Any]) -> float | None:
        """The value in a mapping of column name to the column's stored JSON."""
        node: Any = columns.get(self.column) or {}
        for key in self.path[:-1]:
            node = node.get(key) if isinstance(node, Mapping) else None
            if node is None:
                return None
        if not isinstance(node, Mapping):
            return None
        value = node.get(self.path[-1])
        if self.reading == "number":
            return None if value is None or isinstance(value, bool) else float(value)
        if self.reading == "flag":
            return float(bool(value))
        count = len(value or [])
        if self.reading == "count":
            return float(count)
        total = len(node.get(self.per or "") or [])
        return count / total if total else None

    def to_dict(self) -> dict[str, Any]:
        return {
            "column": self.column,
            "path": list(self.path),
            "reading": self.reading,
            "per": self.per,
        }


@dataclass(frozen=True)
class MetricSpec:
    """One metric's declaration. ``compared``: its difference from the champion on the same
    rows gets a bootstrap interval (and a non-inferiority gate may name it). ``row_mean``: it is
    a mean of one value per row, so a resample reweights the rows' values (how multi-class
    models' differences are bootstrapped). ``timed``: a cost measured by timing calls, which
    depends on the machine's load. ``views``: where the faces show it without being asked."""

    name: str
    family: Family
    label: str
    higher_is_better: bool
    needs: tuple[Need, ...] = ()
    compared: bool = False
    window: WindowValue | None = None
    row_mean: bool = False
    timed: bool = False
    views: frozenset[View] = frozenset()

    def beats(self, value: float, other: float) -> bool:
        """Whether ``value`` is strictly better than ``other`` in this metric's direction.

        >>> metric_spec("accuracy").beats(0.9, 0.8), metric_spec("mae").beats(0.9, 0.8)
        (True, False)
        """
        return value > other if self.higher_is_better else value < other

    @property
    def rule_family(self) -> RuleFamily | None:
        """The alert-rule family that observes this metric, None when no rule can name it.

        A cost metric that serving also measures (its window location is under ``operations``)
        is observed as an operations rule; the other cost metrics exist only offline."""
        if self.family == "cost":
            return "operations" if self.window and self.window.column == "operations" else None
        return _RULE_FAMILIES[self.family]

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "family": self.family,
            "label": self.label,
            "higher_is_better": self.higher_is_better,
            "needs": list(self.needs),
            "compared": self.compared,
            "window": None if self.window is None else self.window.to_dict(),
            "rule_family": self.rule_family,
            "row_mean": self.row_mean,
            "timed": self.timed,
            "views": sorted(self.views),
        }


def _realized(
    name: str,
    family: Family,
    label: str,
    *,
    lower: bool = False,
    scores: bool = False,
    compared: bool = True,
    row_mean: bool = False,
    views: frozenset[View] = frozenset(),
) -> MetricSpec:
    """A metric computed from labels, offline and on labelled production windows."""
    return MetricSpec(
        name,
        family,
        label,
        higher_is_better=not lower,
        needs=("labels", "scores") if scores else ("labels",),
        compared=compared,
        window=WindowValue("performance", (name,)),
        row_mean=row_mean,
        views=views,
    )


def _cost(
    name: str,
    label: str,
    *,
    served: bool = False,
    timed: bool = False,
    views: frozenset[View] = frozenset(),
) -> MetricSpec:
    """What a model costs to run, measured offline; ``served``: serving measures it too."""
    window = WindowValue("operations", (name,)) if served else None
    return MetricSpec(
        name, "cost", label, higher_is_better=False, window=window, timed=timed, views=views
    )


def _estimated(metric: str, label: str, views: frozenset[View] = frozenset()) -> MetricSpec:
    """A label-free estimate (CBPE) of a classification metric, from the model's scores."""
    return MetricSpec(
        f"estimated_{metric}",
        "estimated",
        label,
        higher_is_better=True,
        needs=("scores",),
        window=WindowValue("estimate", ("metrics", metric)),
        views=views,
    )


def _drift(
    name: str, label: str, window: WindowValue, *, needs: tuple[Need, ...] = ()
) -> MetricSpec:
    return MetricSpec(name, "drift", label, higher_is_better=False, needs=needs, window=window)


def _operations(
    name: str, label: str, *, lower: bool = True, views: frozenset[View] = frozenset()
) -> MetricSpec:
    window = WindowValue("operations", (name,))
    return MetricSpec(
        name, "operations", label, higher_is_better=not lower, window=window, views=views
    )


#: the headline quality metrics: in ``keel evaluate``'s table and on the version page
_HEADLINE: frozenset[View] = frozenset({"evaluation_table", "version_summary"})
_HEALTH: frozenset[View] = frozenset({"window_health"})


METRIC_SPECS: tuple[MetricSpec, ...] = (
    _realized(
        "accuracy",
        "classification",
        "Accuracy",
        row_mean=True,
        views=_HEADLINE | _HEALTH,
    ),
    _realized("balanced_accuracy", "classification", "Balanced accuracy", views=_HEADLINE),
    _realized("precision", "classification", "Precision"),
    _realized("recall", "classification", "Recall"),
    _realized("f1", "classification", "F1", views=_HEADLINE),
    _realized("roc_auc", "classification", "ROC AUC", scores=True, views=_HEADLINE),
    _realized(
        "pr_auc",
        "classification",
        "PR AUC",
        scores=True,
        views=frozenset({"evaluation_table"}),
    ),
    _realized(
        "log_loss",
        "classification",
        "Log loss",
        lower=True,
        scores=True,
        row_mean=True,
        views=_HEADLINE,
    ),
    _realized("brier", "classification", "Brier score", lower=True, scores=True, row_mean=True),
    _realized(
        "ece",
        "classification",
        "Expected calibration error",
        lower=True,
        scores=True,
        compared=False,
    ),
    _realized(
        "mae", "regression", "Mean absolute error", lower=True, row_mean=True, views=_HEADLINE
    ),
    _realized("rmse", "regression", "Root mean squared error", lower=True, views=_HEADLINE),
    _realized("r2", "regression", "R²", compared=False, views=_HEADLINE),
    _realized("mape", "regression", "Mean absolute percentage error", lower=True, row_mean=True),
    _cost("latency_p50_ms", "Latency p50 (ms)", served=True, timed=True, views=_HEALTH),
    _cost("latency_p99_ms", "Latency p99 (ms)", served=True, timed=True, views=_HEALTH),
    _cost("latency_batch_p50_ms", "Batch latency p50 (ms)", timed=True),
    _cost("latency_batch_p99_ms", "Batch latency p99 (ms)", timed=True),
    _cost("size_mb", "Model size (MB)"),
    _cost("peak_memory_mb", "Peak memory (MB)"),
    _estimated("accuracy", "Estimated accuracy", views=_HEALTH),
    _estimated("precision", "Estimated precision"),
    _estimated("recall", "Estimated recall"),
    _estimated("f1", "Estimated F1"),
    _estimated("roc_auc", "Estimated ROC AUC"),
    _drift("drifted_features", "Drifted features", WindowValue("drift", ("drifted",), "count")),
    _drift(
        "drift_share",
        "Share of features drifted",
        WindowValue("drift", ("drifted",), "share", per="features"),
    ),
    _drift("domain_auc", "Domain classifier AUC", WindowValue("drift", ("multivariate", "auc"))),
    _drift(
        "prediction_drift",
        "Prediction drift",
        WindowValue("drift", ("prediction_drift",), "flag"),
    ),
    _drift(
        "label_drift",
        "Label drift",
        WindowValue("performance", ("label_drift", "drifted"), "flag"),
        needs=("labels",),
    ),
    _operations("latency_p95_ms", "Latency p95 (ms)"),
    _operations("error_rate", "Error rate", views=_HEALTH),
    _operations("throughput_rps", "Throughput (requests/s)", lower=False, views=_HEALTH),
    _operations("cost_per_1k", "Cost per 1,000 predictions", views=_HEALTH),
    MetricSpec(
        "accuracy_drop",
        "stream",
        "Accuracy drops detected",
        higher_is_better=False,
        needs=("labels",),
    ),
)

_BY_NAME: dict[str, MetricSpec] = {spec.name: spec for spec in METRIC_SPECS}


def find_metric(name: str) -> MetricSpec | None:
    """The declaration of ``name``, None when Keel has no such metric."""
    return _BY_NAME.get(name)


def metric_spec(name: str, field: str = "metric") -> MetricSpec:
    """The declaration of ``name``; InvalidInput naming the known metrics when there is none."""
    spec = _BY_NAME.get(name)
    if spec is None:
        raise InvalidInput(field, f"unknown metric {name!r}; known: {', '.join(sorted(_BY_NAME))}")
    return spec


def metric_names(*families: Family) -> tuple[str, ...]:
    """The names declared in ``families`` (every family when none is given), in declaration
    order."""
    return tuple(s.name for s in METRIC_SPECS if not families or s.family in families)


def shown_in(view: View) -> tuple[MetricSpec, ...]:
    """The metrics ``view`` shows, in declaration order.

    >>> [spec.name for spec in shown_in("version_summary")][:3]
    ['accuracy', 'balanced_accuracy', 'f1']
    """
    return tuple(s for s in METRIC_SPECS if view in s.views)
