"""One definition of each metric, used for offline evaluation and labelled production windows.

Values come from scikit-learn where it has the metric; expected calibration error (ECE) is the
usual equal-width-bins estimate. Every function takes the labels and the model's outputs and
returns plain floats, so results can be stored as JSON.

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

from keel.domain.policy import CLASSIFICATION_METRICS as CLASSIFICATION
from keel.domain.policy import LOWER_IS_BETTER
from keel.domain.policy import REGRESSION_METRICS as REGRESSION


def higher_is_better(metric: str) -> bool:
    return metric not in LOWER_IS_BETTER


def expected_calibration_error(y_true: np.ndarray, confidence: np.ndarray, bins: int = 15) -> float:
    """Share-weighted mean |accuracy - confidence| over equal-width confidence bins.

    ``y_true`` holds 1 where the predicted event happened; ``confidence`` its predicted probability.
    """
    if len(y_true) == 0:
        return float("nan")
    edges = np.linspace(0.0, 1.0, bins + 1)
    index = np.clip(np.digitize(confidence, edges[1:-1], right=True), 0, bins - 1)
    counts = np.bincount(index, minlength=bins)
    hits = np.bincount(index, weights=y_true.astype(float), minlength=bins)
    conf = np.bincount(index, weights=confidence, minlength=bins)
    filled = counts > 0
    gap = np.abs(hits[filled] - conf[filled])
    return float(gap.sum() / len(y_true))


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
    from sklearn import metrics as sk

    labels = list(classes)
    binary = len(labels) == 2
    average = "binary" if binary else "macro"
    positive = labels[1] if binary else 1
    out: dict[str, Any] = {"rows": len(y_true)}
    wanted = set(metrics)
    present = np.unique(y_true)
    if "accuracy" in wanted:
        out["accuracy"] = float(sk.accuracy_score(y_true, y_pred))
    matrix = sk.confusion_matrix(y_true, y_pred, labels=labels)
    if "balanced_accuracy" in wanted:
        # mean recall over the classes present, as sklearn defines it, without its warnings on
        # slices that hold a single class
        support = matrix.sum(axis=1)
        seen = support > 0
        out["balanced_accuracy"] = float(np.mean(np.diag(matrix)[seen] / support[seen]))
    for name, function in (
        ("precision", sk.precision_score),
        ("recall", sk.recall_score),
        ("f1", sk.f1_score),
    ):
        if name in wanted:
            out[name] = float(
                function(
                    y_true,
                    y_pred,
                    labels=labels,
                    pos_label=positive,
                    average=average,
                    zero_division=0.0,
                )
            )
    if proba is not None and len(present) > 1:
        if binary:
            scores = proba[:, 1]
            truth = (y_true == labels[1]).astype(int)
            if "roc_auc" in wanted:
                out["roc_auc"] = float(sk.roc_auc_score(truth, scores))
            if "pr_auc" in wanted:
                out["pr_auc"] = float(sk.average_precision_score(truth, scores))
            if "brier" in wanted:
                out["brier"] = float(sk.brier_score_loss(truth, scores))
            if "ece" in wanted:
                out["ece"] = expected_calibration_error(truth, scores)
        else:
            onehot = (np.asarray(y_true)[:, None] == np.asarray(labels)[None, :]).astype(int)
            if "roc_auc" in wanted and len(present) == len(labels):
                out["roc_auc"] = float(
                    sk.roc_auc_score(
                        y_true, proba, multi_class="ovr", average="macro", labels=labels
                    )
                )
            if "pr_auc" in wanted and len(present) == len(labels):
                out["pr_auc"] = float(sk.average_precision_score(onehot, proba, average="macro"))
            if "brier" in wanted:
                out["brier"] = float(np.mean(np.sum((proba - onehot) ** 2, axis=1)))
            if "ece" in wanted:
                top = proba.argmax(axis=1)
                hit = (np.asarray(labels)[top] == np.asarray(y_true)).astype(int)
                out["ece"] = expected_calibration_error(hit, proba.max(axis=1))
        if "log_loss" in wanted:
            # float32 outputs (XGBoost, onnxruntime) widened to float64 sum to 1 only to float32's
            # precision, which scikit-learn warns about; each row is renormalised first
            total = proba.sum(axis=1, keepdims=True)
            normalised = proba / np.where(total > 0, total, 1.0)
            out["log_loss"] = float(sk.log_loss(y_true, normalised, labels=labels))
    out["confusion_matrix"] = {"labels": [_plain(c) for c in labels], "matrix": matrix.tolist()}
    return out


def regression_metrics(
    y_true: np.ndarray, y_pred: np.ndarray, metrics: Sequence[str] = REGRESSION
) -> dict[str, Any]:
    from sklearn import metrics as sk

    wanted = set(metrics)
    out: dict[str, Any] = {"rows": len(y_true)}
    if "mae" in wanted:
        out["mae"] = float(sk.mean_absolute_error(y_true, y_pred))
    if "rmse" in wanted:
        out["rmse"] = float(np.sqrt(sk.mean_squared_error(y_true, y_pred)))
    if "r2" in wanted and len(y_true) > 1:
        out["r2"] = float(sk.r2_score(y_true, y_pred))
    if "mape" in wanted:
        out["mape"] = float(sk.mean_absolute_percentage_error(y_true, y_pred))
    return out


def _plain(value: Any) -> Any:
    return value.item() if hasattr(value, "item") else value
