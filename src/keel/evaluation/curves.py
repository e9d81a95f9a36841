"""ROC, precision-recall and calibration curves, thinned to a few hundred points for reports."""

from __future__ import annotations

from typing import Any

import numpy as np

MAX_POINTS = 200


def _thin(*columns: np.ndarray) -> list[list[float]]:
    n = len(columns[0])
    keep: Any = (
        np.unique(np.linspace(0, n - 1, min(n, MAX_POINTS)).round().astype(int)) if n else []
    )
    return [[float(v) for v in np.asarray(c)[keep]] for c in columns]


def binary_curves(truth: np.ndarray, scores: np.ndarray, bins: int = 10) -> dict[str, Any]:
    """``truth`` is 1 for the positive class; ``scores`` its predicted probability."""
    from sklearn.metrics import precision_recall_curve, roc_curve

    if len(np.unique(truth)) < 2:
        return {}
    fpr, tpr, _ = roc_curve(truth, scores)
    precision, recall, _ = precision_recall_curve(truth, scores)
    order = np.argsort(recall)
    edges = np.linspace(0, 1, bins + 1)
    index = np.clip(np.digitize(scores, edges[1:-1], right=True), 0, bins - 1)
    counts = np.bincount(index, minlength=bins)
    filled = counts > 0
    mean_score = np.bincount(index, weights=scores, minlength=bins)[filled] / counts[filled]
    observed = (
        np.bincount(index, weights=truth.astype(float), minlength=bins)[filled] / counts[filled]
    )
    roc_x, roc_y = _thin(fpr, tpr)
    pr_x, pr_y = _thin(recall[order], precision[order])
    return {
        "roc": {"fpr": roc_x, "tpr": roc_y},
        "pr": {"recall": pr_x, "precision": pr_y},
        "calibration": {
            "predicted": [float(v) for v in mean_score],
            "observed": [float(v) for v in observed],
            "count": [int(c) for c in counts[filled]],
        },
    }
