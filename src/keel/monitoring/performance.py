"""Realized performance from delayed labels: join labels to logged predictions, then score them
with the same metric definitions as offline evaluation: every metric ``keel.domain.metric_specs``
declares for the task, computed by the functions ``keel.evaluation.metric_functions`` registers.

A request id labelled twice keeps its newest label (a correction wins). Labels whose value is not
one of the model's classes are counted and left out of the metrics, never silently coerced.

The naive baselines (``keel.evaluation.baselines``) are scored on exactly the rows the model is
scored on (``realized_baselines``), so a window says whether the model beats "always the most
frequent class" (the mean, for a regressor) and, for time-ordered data, "the previous label":

>>> import pandas as pd
>>> from types import SimpleNamespace
>>> joined = pd.DataFrame({"timestamp": pd.to_datetime([1, 2, 3, 4], unit="s"),
...                        "prediction": [1, 1, 1, 0], "label": [1, 1, 1, 1]})
>>> ref = SimpleNamespace(task="classification", classes=[0, 1])
>>> realized_baselines(joined, ref)["majority"]["accuracy"]
1.0
>>> realized_margin(realized_metrics(joined, ref), realized_baselines(joined, ref), "accuracy",
...                 "majority")
-0.25
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from keel.domain.metric_specs import metric_names
from keel.domain.policy import Policy
from keel.monitoring.references import Reference

#: what a labelled window is scored on: every declared metric of the model's task
CLASSIFICATION_METRICS = metric_names("classification")
REGRESSION_METRICS = metric_names("regression")


def newest_labels(labels: pd.DataFrame, *, arrival: bool = False) -> pd.DataFrame:
    """One label per request id: the most recently logged one (``arrival`` keeps its
    ``labelled_at``, for callers that replay what was known at a given moment)."""
    columns = ["request_id", "label", *(["labelled_at"] if arrival else [])]
    if labels.empty:
        empty = {"request_id": pd.Series(dtype=str), "label": pd.Series(dtype=object)}
        if arrival:
            empty["labelled_at"] = pd.Series(dtype="datetime64[ns, UTC]")
        return pd.DataFrame(empty)
    ordered = labels.sort_values("labelled_at", kind="stable")
    return ordered.drop_duplicates("request_id", keep="last")[columns]


def join_labels(index: pd.DataFrame, labels: pd.DataFrame) -> pd.DataFrame:
    """The window's predictions that have a label, with a ``label`` column."""
    return index.merge(labels, on="request_id", how="inner")


def _aligned_labels(values: pd.Series, classes: list[Any]) -> tuple[np.ndarray, np.ndarray]:
    """Labels as the classes' type (``"1"`` logged for class 1 counts as 1) and a known-mask."""
    raw = values.to_numpy()
    if not classes:
        return raw, np.ones(len(raw), dtype=bool)
    lookup = {str(c): c for c in classes}
    aligned = np.array([lookup.get(str(v), v) for v in raw], dtype=object)
    known = np.array([str(v) in lookup for v in raw], dtype=bool)
    return aligned, known


def realized_metrics(joined: pd.DataFrame, reference: Reference) -> dict[str, Any]:
    """Metrics over the labelled rows of ``joined`` (the output of ``join_labels``)."""
    from keel.evaluation.metrics import classification_metrics, regression_metrics

    rows = len(joined)
    if rows == 0:
        return {"rows": 0}
    if reference.task == "regression":
        truth = pd.to_numeric(joined["label"], errors="coerce").to_numpy(dtype="float64")
        predicted = pd.to_numeric(joined["prediction"], errors="coerce").to_numpy(dtype="float64")
        usable = np.isfinite(truth) & np.isfinite(predicted)
        out = regression_metrics(truth[usable], predicted[usable], REGRESSION_METRICS)
        out["unusable_rows"] = int((~usable).sum())
        return out
    classes = reference.classes
    truth, known = _aligned_labels(joined["label"], classes)
    predicted, _ = _aligned_labels(joined["prediction"], classes)
    proba = None
    if len(classes) == 2 and "score" in joined and joined["score"].notna().all():
        score = joined["score"].to_numpy(dtype="float64")
        proba = np.column_stack([1.0 - score, score])[known]
    truth, predicted = truth[known], predicted[known]
    if len(truth) == 0:
        return {"rows": 0, "unknown_label_rows": int((~known).sum())}
    out = classification_metrics(
        _typed(truth, classes), _typed(predicted, classes), proba, classes, CLASSIFICATION_METRICS
    )
    out["unknown_label_rows"] = int((~known).sum())
    return out


def orders_by_time(policy: Policy) -> bool:
    """Whether the persistence baseline applies: a suite of the policy names a ``time_column``
    or sets ``time_ordered`` (the data is a time series, so the log's timestamp order is the
    order persistence needs). Otherwise "the previous row" is an accident of arrival."""
    return any(s.time_ordered or s.time_column is not None for s in policy.suites.values())


def realized_baselines(
    joined: pd.DataFrame, reference: Reference, *, persistence: bool = False
) -> dict[str, dict[str, Any]]:
    """The naive baselines over the rows ``realized_metrics`` scores on the same ``joined``
    frame: ``majority`` (classifiers) or ``mean`` (regressors), plus ``persistence`` (each row
    predicted as the label of the row logged before it) when asked. Each is a mapping of metric
    to value, with ``rows``; empty when no row is usable.

    Both are scored with the window's own labels (the best constant in hindsight), so a model
    that does not beat them is surely no better than a constant."""
    from keel.evaluation import baselines

    if joined.empty:
        return {}
    if persistence:
        joined = joined.sort_values("timestamp", kind="stable")
    out: dict[str, dict[str, Any]] = {}
    if reference.task == "regression":
        truth = pd.to_numeric(joined["label"], errors="coerce").to_numpy(dtype="float64")
        predicted = pd.to_numeric(joined["prediction"], errors="coerce").to_numpy(dtype="float64")
        truth = truth[np.isfinite(truth) & np.isfinite(predicted)]
        if len(truth) == 0:
            return {}
        out["mean"] = baselines.mean_baseline(truth, REGRESSION_METRICS)
        if persistence:
            out["persistence"] = baselines.persistence_regression(truth, REGRESSION_METRICS)
    else:
        classes = reference.classes
        aligned, known = _aligned_labels(joined["label"], classes)
        truth = _typed(aligned[known], classes)
        if len(truth) == 0 or not classes:
            return {}
        out["majority"] = baselines.majority(truth, classes, CLASSIFICATION_METRICS)
        if persistence:
            out["persistence"] = baselines.persistence(truth, classes, CLASSIFICATION_METRICS)
    return {
        name: {k: v for k, v in scores.items() if k != "confusion_matrix"}
        for name, scores in out.items()
    }


def realized_margin(
    metrics: dict[str, Any], baselines: dict[str, dict[str, Any]], metric: str, baseline: str
) -> float | None:
    """How much better the model scored ``metric`` than ``baseline`` on the same rows (positive
    when better, whichever way the metric points); None when either was not computed."""
    from keel.evaluation.baselines import margin

    mine = metrics.get(metric)
    theirs = (baselines.get(baseline) or {}).get(metric)
    if mine is None or theirs is None:
        return None
    return margin(metric, mine, theirs)


def _typed(values: np.ndarray, classes: list[Any]) -> np.ndarray:
    """An object array of class values back to the classes' own dtype, for scikit-learn."""
    try:
        return np.asarray(values.tolist(), dtype=np.asarray(classes).dtype)
    except (TypeError, ValueError):
        return values


def outcomes(joined: pd.DataFrame, reference: Reference) -> tuple[np.ndarray, np.ndarray]:
    """Whether each labelled prediction of a classifier was right, and which rows had a label
    that is one of the classes (the others are left out of the first array)."""
    truth, known = _aligned_labels(joined["label"], reference.classes)
    predicted, _ = _aligned_labels(joined["prediction"], reference.classes)
    right = [t == p for t, p in zip(truth[known], predicted[known], strict=True)]
    return np.asarray(right, dtype=bool), known
