"""Naive baselines on labelled production rows: scored on exactly the model's rows, and the
margin points the right way for metrics where lower is better."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from keel.domain.policy import Policy
from keel.monitoring.performance import (
    orders_by_time,
    realized_baselines,
    realized_margin,
    realized_metrics,
)

CLASSIFIER: Any = SimpleNamespace(task="classification", classes=[0, 1])
REGRESSOR: Any = SimpleNamespace(task="regression", classes=[])


def frame(predictions: list[Any], labels: list[Any]) -> pd.DataFrame:
    stamps = pd.to_datetime(np.arange(len(labels)), unit="s", utc=True)
    return pd.DataFrame({"timestamp": stamps, "prediction": predictions, "label": labels})


@settings(max_examples=25)
@given(st.lists(st.integers(0, 1), min_size=1, max_size=60))
def test_the_majority_class_scores_its_share_and_a_constant_model_ties_it(
    labels: list[int],
) -> None:
    top = max((0, 1), key=lambda c: (labels.count(c), -c))
    joined = frame([top] * len(labels), labels)
    scored = realized_baselines(joined, CLASSIFIER)
    share = max(labels.count(0), labels.count(1)) / len(labels)
    assert scored["majority"]["accuracy"] == pytest.approx(share)
    margin = realized_margin(realized_metrics(joined, CLASSIFIER), scored, "accuracy", "majority")
    assert margin == pytest.approx(0.0)


@settings(max_examples=25)
@given(st.lists(st.integers(-100, 100), min_size=3, max_size=40), st.floats(0.1, 10))
def test_a_regressor_off_by_a_constant_loses_to_the_mean_by_what_rmse_says(
    labels: list[int], offset: float
) -> None:
    truth = np.asarray(labels, dtype=float)
    joined = frame(list(truth + offset), labels)
    scored = realized_baselines(joined, REGRESSOR)
    model = realized_metrics(joined, REGRESSOR)
    margin = realized_margin(model, scored, "rmse", "mean")
    assert margin == pytest.approx(float(np.std(truth)) - offset, abs=1e-6)


def test_rows_the_model_is_not_scored_on_are_left_out_of_the_baselines_too() -> None:
    joined = frame([1, 1, 0, 1], [1, 1, "cat", 0])  # an unknown label
    assert realized_baselines(joined, CLASSIFIER)["majority"]["rows"] == 3
    joined = frame([1.0, None, 3.0], [1.0, 2.0, "x"])  # no prediction, not a number
    assert realized_baselines(joined, REGRESSOR)["mean"]["rows"] == 1
    assert realized_baselines(frame([], []), CLASSIFIER) == {}


def test_persistence_follows_the_log_order_and_only_when_asked() -> None:
    labels = [0, 0, 0, 1, 1, 1]
    joined = frame([1] * 6, labels).iloc[::-1]  # stored newest first
    assert "persistence" not in realized_baselines(joined, CLASSIFIER)
    scored = realized_baselines(joined, CLASSIFIER, persistence=True)
    assert scored["persistence"]["accuracy"] == pytest.approx(4 / 5)
    assert "confusion_matrix" not in scored["majority"]


def test_a_policy_orders_by_time_when_a_suite_says_so() -> None:
    suite = {"snapshots": ["hold"], "target": "y"}
    assert not orders_by_time(Policy.parse({"suites": {"s": suite}}))
    assert orders_by_time(Policy.parse({"suites": {"s": {**suite, "time_ordered": True}}}))
    assert orders_by_time(Policy.parse({"suites": {"s": {**suite, "time_column": "day"}}}))
