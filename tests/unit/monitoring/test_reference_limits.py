"""Reference-derived limits: the chunk metrics are Keel's metric definitions, the spread scales
with the window's size, and windows with nothing changed almost never cross the limits."""

from __future__ import annotations

import doctest
import json

import numpy as np
import pytest

from keel.evaluation.metrics import classification_metrics, regression_metrics
from keel.monitoring import reference_limits
from keel.monitoring.estimation import estimate_performance, fit_calibration
from keel.monitoring.reference_limits import (
    SIGMAS,
    MetricLimit,
    ReferenceLimits,
    build_limits,
)


def test_the_module_example_runs() -> None:
    assert doctest.testmod(reference_limits).failed == 0


def test_chunk_metrics_are_keels_metric_definitions() -> None:
    rng = np.random.default_rng(1)
    p = rng.beta(2, 3, 3_000)
    truth = (rng.random(3_000) < p).astype(int)
    prediction = (p >= 0.4).astype(int)
    pick = rng.integers(0, 3_000, (5, 400))
    chunks = reference_limits._classification([0, 1], truth, prediction, p, pick)
    for row, rows in enumerate(pick):
        proba = np.column_stack([1 - p[rows], p[rows]])
        expected = classification_metrics(truth[rows], prediction[rows], proba, [0, 1])
        for name, values in chunks.items():
            assert values[row] == pytest.approx(expected[name], abs=1e-12), name
    y = rng.normal(10, 3, 3_000)
    guess = y + rng.normal(0, 1, 3_000)
    numbers = reference_limits._regression(y, guess, pick)
    for row, rows in enumerate(pick):
        expected = regression_metrics(y[rows], guess[rows])
        for name, values in numbers.items():
            assert values[row] == pytest.approx(expected[name], rel=1e-9), name


def test_the_spread_scales_with_the_window_and_the_reference() -> None:
    entry = MetricLimit("accuracy", 0.9, 0.01, 1_000, 200, 10**9)
    assert entry.spread([1_000]) == pytest.approx(0.01, rel=1e-3)
    assert entry.spread([4_000]) == pytest.approx(0.005, rel=1e-3)
    assert entry.spread([1_000, 1_000, 1_000, 1_000]) == pytest.approx(0.005, rel=1e-3)
    assert entry.limit([1_000]) == pytest.approx(0.9 - SIGMAS * entry.spread([1_000]))
    small = MetricLimit("accuracy", 0.9, 0.01, 1_000, 200, 1_000)  # a reference of one window
    assert small.spread([1_000]) == pytest.approx(0.01 * np.sqrt(2))
    lower = MetricLimit("rmse", 2.0, 0.1, 1_000, 200, 10**9)
    assert lower.limit([1_000]) == pytest.approx(2.0 + SIGMAS * 0.1, rel=1e-6)
    explained = entry.explain([500])
    assert explained["limit"] == entry.limit([500]) and "mean - 3" in explained["rule"]


def test_limits_round_trip_through_json() -> None:
    rng = np.random.default_rng(2)
    p = rng.beta(2, 2, 2_000)
    truth = (rng.random(2_000) < p).astype(int)
    limits = build_limits("classification", [0, 1], truth, (p > 0.5).astype(int), p, chunk_rows=500)
    assert set(limits.metrics) == {"accuracy", "precision", "recall", "f1", "roc_auc", "brier"}
    stored = ReferenceLimits.from_dict(json.loads(json.dumps(limits.to_dict())))
    assert stored == limits and stored.get("estimated_roc_auc") == limits.metrics["roc_auc"]
    three = build_limits("classification", ["a", "b", "c"], truth, truth, None, chunk_rows=100)
    assert set(three.metrics) == {"accuracy"}


def test_no_shift_windows_rarely_cross_and_a_real_drop_does() -> None:
    """A held-out reference of 5,000 rows, then 200 windows of 500 rows from the same
    distribution: the realized accuracy, the estimated accuracy and the estimated ROC AUC each
    cross their reference limit in under 1% of the windows; a window where the model is
    wrong twice as often crosses both accuracy limits."""
    rng = np.random.default_rng(3)

    def rows(n: int, flip: float = 0.0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        p = rng.beta(2, 3, n)
        y = (rng.random(n) < p).astype(int)
        score = np.clip(p + rng.normal(0, 0.02, n), 0, 1)
        if flip:  # covariate shift towards the boundary: scores say so too
            p = 0.5 + (p - 0.5) * (1 - flip)
            y = (rng.random(n) < p).astype(int)
            score = p
        return y, (score >= 0.5).astype(int), score

    y, pred, score = rows(5_000)
    limits = build_limits("classification", [0, 1], y, pred, score, chunk_rows=500)
    calibrator = fit_calibration(y, pred, score, [0, 1])
    watched = ("accuracy", "estimated_accuracy", "estimated_roc_auc")
    crossed = dict.fromkeys(watched, 0)
    windows = 200
    for seed in range(windows):
        wy, wpred, wscore = rows(500)
        estimate = estimate_performance(wpred, wscore, [0, 1], calibrator, draws=1, seed=seed)
        values = {
            "accuracy": float(np.mean(wy == wpred)),
            "estimated_accuracy": estimate.metrics["accuracy"],
            "estimated_roc_auc": estimate.metrics["roc_auc"],
        }
        for name in watched:
            entry = limits.get(name)
            assert entry is not None
            crossed[name] += values[name] < entry.limit([500])
    assert all(count / windows < 0.01 for count in crossed.values()), crossed
    sy, spred, sscore = rows(500, flip=0.6)
    shifted = estimate_performance(spred, sscore, [0, 1], calibrator, draws=1)
    accuracy = limits.metrics["accuracy"]
    assert float(np.mean(sy == spred)) < accuracy.limit([500])
    assert shifted.metrics["accuracy"] < accuracy.limit([500])
