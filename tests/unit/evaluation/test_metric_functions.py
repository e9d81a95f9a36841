"""Every offline metric declared in ``keel.domain.metric_specs`` has exactly one registered
computation, computes on binary, multi-class and regression rows, and points the declared way:
a perfect model scores at least as well as a poor one by the declared direction."""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
import pytest

from keel.domain.metric_specs import METRIC_SPECS, Family, MetricSpec, metric_names
from keel.evaluation.metric_functions import COMPUTATIONS, ScoredRows, compute, computes
from keel.evaluation.metrics import classification_metrics, higher_is_better, regression_metrics

OFFLINE = [s for s in METRIC_SPECS if s.family in ("classification", "regression")]


def test_each_offline_metric_has_one_computation_and_no_more() -> None:
    assert set(COMPUTATIONS) == {s.name for s in OFFLINE}


def test_a_second_computation_or_an_undeclared_name_is_refused() -> None:
    with pytest.raises(ValueError, match="already has a computation"):
        computes("accuracy")(lambda rows: 0.0)
    with pytest.raises(Exception, match="unknown metric"):
        computes("accuracy_squared")


@pytest.mark.parametrize("spec", METRIC_SPECS, ids=lambda s: s.name)
def test_directions_agree_with_higher_is_better(spec: MetricSpec) -> None:
    assert higher_is_better(spec.name) is spec.higher_is_better
    assert higher_is_better("not_a_metric") is True


def _binary(perfect: bool) -> ScoredRows:
    rng = np.random.default_rng(7)
    y = rng.integers(0, 2, 400)
    if perfect:
        p1 = np.where(y == 1, 1.0, 0.0)
    else:
        p1 = np.clip(0.5 + 0.2 * (y - 0.5) + rng.normal(0, 0.25, len(y)), 0.01, 0.99)
    proba = np.column_stack([1 - p1, p1])
    return ScoredRows(y, (p1 >= 0.5).astype(int), proba, [0, 1])


def _multiclass(perfect: bool) -> ScoredRows:
    rng = np.random.default_rng(11)
    y = rng.integers(0, 3, 600)
    logits = rng.normal(0, 1, (len(y), 3))
    logits[np.arange(len(y)), y] += 50.0 if perfect else 0.7
    proba = np.exp(logits - logits.max(axis=1, keepdims=True))
    proba /= proba.sum(axis=1, keepdims=True)
    return ScoredRows(y, proba.argmax(axis=1), proba, [0, 1, 2])


def _regression(perfect: bool) -> ScoredRows:
    rng = np.random.default_rng(3)
    y = rng.uniform(1.0, 10.0, 300)
    return ScoredRows(y, y if perfect else y + rng.normal(0, 2.0, len(y)))


PROBLEMS: dict[str, tuple[Family, Callable[[bool], ScoredRows]]] = {
    "binary": ("classification", _binary),
    "multiclass": ("classification", _multiclass),
    "regression": ("regression", _regression),
}


@pytest.mark.parametrize("problem", sorted(PROBLEMS))
def test_every_declared_metric_computes_and_points_the_declared_way(problem: str) -> None:
    family, rows = PROBLEMS[problem]
    names = metric_names(family)
    perfect = compute(rows(True), names, family)
    poor = compute(rows(False), names, family)
    assert list(perfect) == [n for n in COMPUTATIONS if n in names]
    for name in names:
        assert math.isfinite(perfect[name]) and math.isfinite(poor[name]), name
        if higher_is_better(name):
            assert perfect[name] > poor[name], name
        else:
            assert perfect[name] < poor[name], name


def test_metrics_that_need_scores_are_left_out_without_them() -> None:
    rows = _binary(False)
    unscored = ScoredRows(rows.y_true, rows.y_pred, None, rows.labels)
    got = compute(unscored, metric_names("classification"), "classification")
    needing_scores = {s.name for s in OFFLINE if "scores" in s.needs}
    assert set(got) == set(metric_names("classification")) - needing_scores


def test_a_metric_set_names_other_families_harmlessly() -> None:
    rows = _regression(False)
    assert set(compute(rows, ["mae", "accuracy", "latency_p50_ms"], "regression")) == {"mae"}


def test_the_entry_points_keep_their_layout() -> None:
    rows = _binary(False)
    out = classification_metrics(rows.y_true, rows.y_pred, rows.proba, [0, 1])
    assert list(out) == [
        "rows",
        "accuracy",
        "balanced_accuracy",
        "precision",
        "recall",
        "f1",
        "roc_auc",
        "pr_auc",
        "brier",
        "ece",
        "log_loss",
        "confusion_matrix",
    ]
    assert out["confusion_matrix"]["labels"] == [0, 1]
    reg = _regression(False)
    assert list(regression_metrics(reg.y_true, reg.y_pred)) == ["rows", "mae", "rmse", "r2", "mape"]
    assert "r2" not in regression_metrics(np.array([1.0]), np.array([2.0]))
