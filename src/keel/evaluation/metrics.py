"""One definition of each metric, used for offline evaluation and labelled production windows.

The metrics are declared in ``keel.domain.metric_specs`` and computed by the functions
registered in ``keel.evaluation.metric_functions``; these two entry points return a metric set
as plain floats (plus the row count and, for classifiers, the confusion matrix), so results can
be stored as JSON. Values come from scikit-learn where it has the metric; expected calibration
error (ECE) is the usual equal-width-bins estimate.

>>> import numpy as np
>>> scores = classification_metrics(np.array([0, 1, 1, 0]), np.array([0, 1, 0, 0]),
...                                 np.array([[.9, .1], [.2, .8], [.6, .4], [.7, .3]]), [0, 1])
>>> scores["accuracy"], scores["recall"]
(0.75, 0.5)
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from keel.domain.metric_specs import find_metric, metric_names
from keel.evaluation.metric_functions import ScoredRows, compute, expected_calibration_error

__all__ = [
    "classification_metrics",
    "expected_calibration_error",
    "higher_is_better",
    "regression_metrics",
]

CLASSIFICATION = metric_names("classification")
REGRESSION = metric_names("regression")


def higher_is_better(metric: str) -> bool:
    """As declared; a name Keel does not know counts as higher-is-better."""
    spec = find_metric(metric)
    return spec is None or spec.higher_is_better


def classification_metrics(
    y_true: np.ndarray,
    y_pred: np.ndarray,
    proba: np.ndarray | None,
    classes: Sequence[Any],
    metrics: Sequence[str] = CLASSIFICATION,
) -> dict[str, Any]:
    """Scalar metrics plus the confusion matrix (rows: true class, columns: predicted class).

    Binary problems treat ``classes[1]`` as the positive class; multi-class problems use macro
    averages and one-vs-rest ROC AUC. Metrics needing probabilities are left out without them.
    """
    rows = ScoredRows(y_true, y_pred, proba, classes)
    out: dict[str, Any] = {"rows": len(y_true)}
    out.update(compute(rows, metrics, "classification"))
    out["confusion_matrix"] = {
        "labels": [_plain(c) for c in rows.labels],
        "matrix": rows.matrix.tolist(),
    }
    return out


def regression_metrics(
    y_true: np.ndarray, y_pred: np.ndarray, metrics: Sequence[str] = REGRESSION
) -> dict[str, Any]:
    out: dict[str, Any] = {"rows": len(y_true)}
    out.update(compute(ScoredRows(y_true, y_pred), metrics, "regression"))
    return out


def _plain(value: Any) -> Any:
    return value.item() if hasattr(value, "item") else value
