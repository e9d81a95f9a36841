"""Realized performance from delayed labels: join labels to logged predictions, then score them
with the same metric definitions as offline evaluation (``keel.evaluation.metrics``).

A request id labelled twice keeps its newest label (a correction wins). Labels whose value is not
one of the model's classes are counted and left out of the metrics, never silently coerced.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from keel.monitoring.references import Reference


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
        out = regression_metrics(truth[usable], predicted[usable])
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
    out = classification_metrics(_typed(truth, classes), _typed(predicted, classes), proba, classes)
    out["unknown_label_rows"] = int((~known).sum())
    return out


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
