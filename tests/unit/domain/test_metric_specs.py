"""The metric declarations are the one source every list and rule family is derived from: each
name is declared once, each window location reads back what a window holds there, and the
rule grammar accepts each metric in its declared family and nowhere else."""

from __future__ import annotations

from typing import Any

import pytest

from keel.domain import metric_names
from keel.domain.alert_rules import (
    DRIFT_METRICS,
    ESTIMATED_METRICS,
    OPERATION_METRICS,
    STREAM_METRICS,
    parse_alert_rule,
)
from keel.domain.metric_specs import (
    METRIC_SPECS,
    MetricSpec,
    WindowValue,
    find_metric,
    metric_spec,
)
from keel.domain.metric_specs import (
    metric_names as names_of,
)
from keel.errors import InvalidInput

WINDOWED = [s for s in METRIC_SPECS if s.window is not None]
RULED = [s for s in METRIC_SPECS if s.rule_family is not None]


def test_each_name_is_declared_once() -> None:
    names = [s.name for s in METRIC_SPECS]
    assert len(names) == len(set(names))


def test_the_name_lists_are_the_declarations() -> None:
    assert metric_names.CLASSIFICATION_METRICS == (
        "accuracy",
        "balanced_accuracy",
        "precision",
        "recall",
        "f1",
        "roc_auc",
        "pr_auc",
        "log_loss",
        "brier",
        "ece",
    )
    assert metric_names.REGRESSION_METRICS == ("mae", "rmse", "r2", "mape")
    assert set(metric_names.COST_METRICS) == {
        "latency_p50_ms",
        "latency_p99_ms",
        "latency_batch_p50_ms",
        "latency_batch_p99_ms",
        "size_mb",
        "peak_memory_mb",
    }
    assert (
        metric_names.METRICS
        - set(metric_names.COST_METRICS)
        - {
            "ece",
            "r2",
        }
        == metric_names.COMPARABLE
    )
    quality = set(metric_names.CLASSIFICATION_METRICS + metric_names.REGRESSION_METRICS)
    assert metric_names.LOWER_IS_BETTER & quality == {
        "log_loss",
        "brier",
        "ece",
        "mae",
        "rmse",
        "mape",
    }
    assert set(metric_names.COST_METRICS) <= metric_names.LOWER_IS_BETTER


def test_the_rule_families_are_the_declarations() -> None:
    assert (
        tuple(f"estimated_{m}" for m in ("accuracy", "precision", "recall", "f1", "roc_auc"))
        == ESTIMATED_METRICS
    )
    assert set(DRIFT_METRICS) == {
        "drifted_features",
        "drift_share",
        "domain_auc",
        "prediction_drift",
        "label_drift",
    }
    assert set(OPERATION_METRICS) == {
        "latency_p50_ms",
        "latency_p95_ms",
        "latency_p99_ms",
        "error_rate",
        "throughput_rps",
        "cost_per_1k",
    }
    assert STREAM_METRICS == ("accuracy_drop",)


@pytest.mark.parametrize("spec", RULED, ids=lambda s: s.name)
def test_the_rule_parser_accepts_each_metric_in_its_family(spec: MetricSpec) -> None:
    span = "labelled predictions" if spec.rule_family == "realized" else "windows"
    rule = parse_alert_rule(f"{spec.name} > 0.5 over the last 3 {span}")
    assert (rule.metric, rule.family) == (spec.name, spec.rule_family)


@pytest.mark.parametrize(
    "spec", [s for s in METRIC_SPECS if s.rule_family is None], ids=lambda s: s.name
)
def test_a_metric_no_rule_observes_is_refused(spec: MetricSpec) -> None:
    with pytest.raises(InvalidInput, match="unknown observation"):
        parse_alert_rule(f"{spec.name} > 0.5")


@pytest.mark.parametrize(
    "spec",
    [s for s in RULED if s.rule_family in ("realized", "estimated") and s.family != "stream"],
    ids=lambda s: s.name,
)
def test_a_reference_rule_points_the_declared_way(spec: MetricSpec) -> None:
    worse = "below" if spec.higher_is_better else "above"
    better = "above" if spec.higher_is_better else "below"
    assert parse_alert_rule(f"{spec.name} {worse} reference").against == "reference"
    with pytest.raises(InvalidInput, match=f"gets worse {worse}"):
        parse_alert_rule(f"{spec.name} {better} reference")


def _holding(window: WindowValue, value: Any) -> dict[str, Any]:
    """The columns of a window that holds ``value`` at ``window``'s location."""
    node: dict[str, Any] = {window.path[-1]: value}
    if window.per is not None:
        node[window.per] = ["a", "b", "c", "d"]
    for key in reversed(window.path[:-1]):
        node = {key: node}
    return {window.column: node}


@pytest.mark.parametrize("spec", WINDOWED, ids=lambda s: s.name)
def test_each_window_location_reads_back_what_it_holds(spec: MetricSpec) -> None:
    window = spec.window
    assert window is not None
    stored, expected = {
        "number": (0.25, 0.25),
        "count": (["a", "b"], 2.0),
        "share": (["a"], 0.25),
        "flag": ({"p_value": 0.001}, 1.0),
    }[window.reading]
    assert window.read_from(_holding(window, stored)) == expected


@pytest.mark.parametrize("spec", WINDOWED, ids=lambda s: s.name)
def test_a_window_that_measured_nothing_never_raises(spec: MetricSpec) -> None:
    window = spec.window
    assert window is not None
    empty = window.read_from({})
    assert empty is None or empty == 0.0
    assert window.read_from({window.column: {"unrelated": 1}}) in (None, 0.0)


def test_a_number_location_holding_no_number_reads_as_not_measured() -> None:
    window = WindowValue("performance", ("accuracy",))
    assert window.read_from({"performance": {"accuracy": None}}) is None
    assert window.read_from({"performance": {"accuracy": True}}) is None
    assert window.read_from({"performance": {"accuracy": 1}}) == 1.0


def test_lookups_name_the_known_metrics() -> None:
    assert find_metric("nonsense") is None
    assert metric_spec("rmse").family == "regression"
    with pytest.raises(InvalidInput, match="known: accuracy"):
        metric_spec("nonsense")
    assert names_of("stream") == ("accuracy_drop",)
    assert len(names_of()) == len(METRIC_SPECS)


def test_a_declaration_turns_into_json() -> None:
    spec = metric_spec("estimated_roc_auc").to_dict()
    assert spec == {
        "name": "estimated_roc_auc",
        "family": "estimated",
        "label": "Estimated ROC AUC",
        "higher_is_better": True,
        "needs": ["scores"],
        "compared": False,
        "window": {
            "column": "estimate",
            "path": ["metrics", "roc_auc"],
            "reading": "number",
            "per": None,
        },
        "rule_family": "estimated",
        "row_mean": False,
        "timed": False,
        "views": [],
    }
