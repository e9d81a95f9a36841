"""Naive baselines scored on the same rows as the model: a model must be seen to beat them.

Majority class (or the mean, for regression) ignores the features; persistence predicts the
previous row's label, which on autocorrelated time series (Elec2) is surprisingly hard to beat.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from keel.domain.metric_names import LOWER_IS_BETTER
from keel.evaluation.metrics import classification_metrics, regression_metrics


def margin(metric: str, model: float, baseline: float) -> float:
    """How much better the model scored ``metric`` than a baseline: positive when better,
    whichever way the metric points (``rmse`` 3 against the mean's 4 is a margin of +1).

    >>> margin("accuracy", 0.811, 0.816) < 0, margin("rmse", 3.0, 4.0)
    (True, 1.0)
    """
    if metric in LOWER_IS_BETTER:
        return float(baseline) - float(model)
    return float(model) - float(baseline)


def majority(y_true: np.ndarray, classes: Sequence[Any], metrics: Sequence[str]) -> dict[str, Any]:
    labels, counts = np.unique(y_true, return_counts=True)
    top = labels[np.argmax(counts)]
    prior = np.array([np.mean(y_true == c) for c in classes])
    pred = np.full(len(y_true), top, dtype=np.asarray(y_true).dtype)
    proba = np.tile(prior, (len(y_true), 1))
    out = classification_metrics(y_true, pred, proba, classes, metrics)
    out["predicts"] = top.item() if hasattr(top, "item") else top
    return out


def persistence(
    y_true: np.ndarray, classes: Sequence[Any], metrics: Sequence[str]
) -> dict[str, Any]:
    """Each row predicted as the label of the row before it (the first row is left out)."""
    if len(y_true) < 2:
        return {"rows": 0}
    truth, previous = y_true[1:], y_true[:-1]
    proba = (previous[:, None] == np.asarray(classes)[None, :]).astype(float)
    return classification_metrics(truth, previous, proba, classes, metrics)


def mean_baseline(y_true: np.ndarray, metrics: Sequence[str]) -> dict[str, Any]:
    pred = np.full(len(y_true), float(np.mean(y_true)))
    out = regression_metrics(y_true, pred, metrics)
    out["predicts"] = float(np.mean(y_true))
    return out


def persistence_regression(y_true: np.ndarray, metrics: Sequence[str]) -> dict[str, Any]:
    if len(y_true) < 2:
        return {"rows": 0}
    return regression_metrics(y_true[1:], y_true[:-1], metrics)
