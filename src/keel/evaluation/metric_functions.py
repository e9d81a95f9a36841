"""How each metric declared in ``keel.domain.metric_specs`` is computed: one function per name,
registered here once and used for offline evaluation, slices, baselines and labelled production
windows alike.

Every function reads a ``ScoredRows``, which works out what several metrics share (the
confusion matrix, the positive class's scores, one-hot labels) on first use and keeps it, so
asking for a whole metric set costs what computing each shared piece once costs. A function
returns None where its metric is not defined on the rows (no probabilities, a single class
present, one row for R²), and the metric is then left out.

>>> import numpy as np
>>> rows = ScoredRows(np.array([0, 1, 1, 0]), np.array([0, 1, 0, 0]), None, [0, 1])
>>> compute(rows, ["recall", "roc_auc"], "classification")
{'recall': 0.5}
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from functools import cached_property
from typing import Any

import numpy as np

from keel.domain.metric_specs import Family, metric_spec

__all__ = ["COMPUTATIONS", "ScoredRows", "compute", "computes", "expected_calibration_error"]

#: a metric's computation: the rows in, the value out (None: not defined on these rows)
Computation = Callable[["ScoredRows"], float | None]

#: every computation, keyed by metric name, in the order results list them
COMPUTATIONS: dict[str, Computation] = {}


def computes(name: str) -> Callable[[Computation], Computation]:
    """Register the computation of the declared metric ``name`` (a second one is refused)."""
    metric_spec(name)  # only declared metrics are computed

    def register(function: Computation) -> Computation:
        if name in COMPUTATIONS:
            raise ValueError(f"metric {name!r} already has a computation")
        COMPUTATIONS[name] = function
        return function

    return register


def compute(rows: ScoredRows, metrics: Iterable[str], family: Family) -> dict[str, float]:
    """The ``metrics`` of ``family`` that are defined on ``rows``, in registration order;
    names of other families are ignored, as a metric set may name both kinds."""
    wanted = set(metrics)
    out: dict[str, float] = {}
    for name, function in COMPUTATIONS.items():
        if name in wanted and metric_spec(name).family == family:
            value = function(rows)
            if value is not None:
                out[name] = value
    return out


def _sk() -> Any:
    from sklearn import metrics

    return metrics


class ScoredRows:
    """Labels and a model's outputs on the same rows, with the pieces metrics share.

    Binary problems treat ``classes[1]`` as the positive class; multi-class problems use macro
    averages and one-vs-rest ROC AUC. Regression leaves ``proba`` None and ``classes`` empty.
    """

    def __init__(
        self,
        y_true: np.ndarray,
        y_pred: np.ndarray,
        proba: np.ndarray | None = None,
        classes: Sequence[Any] = (),
    ) -> None:
        self.y_true = y_true
        self.y_pred = y_pred
        self.proba = proba
        self.labels = list(classes)
        self.binary = len(self.labels) == 2

    @cached_property
    def present(self) -> np.ndarray:
        return np.unique(self.y_true)

    @cached_property
    def matrix(self) -> np.ndarray:
        """Confusion matrix: rows the true class, columns the predicted class."""
        return np.asarray(_sk().confusion_matrix(self.y_true, self.y_pred, labels=self.labels))

    @property
    def scored(self) -> bool:
        """Whether metrics of probabilities are defined: there are some, and two classes seen."""
        return self.proba is not None and len(self.present) > 1

    @property
    def every_class_present(self) -> bool:
        return len(self.present) == len(self.labels)

    @cached_property
    def truth(self) -> np.ndarray:
        """Binary: 1 where the positive class is the label."""
        return (self.y_true == self.labels[1]).astype(int)

    @cached_property
    def scores(self) -> np.ndarray:
        """Binary: the positive class's probability."""
        assert self.proba is not None
        return self.proba[:, 1]

    @cached_property
    def onehot(self) -> np.ndarray:
        return (np.asarray(self.y_true)[:, None] == np.asarray(self.labels)[None, :]).astype(int)

    def averaged(self, function: Callable[..., Any]) -> float:
        """A label-based scikit-learn score, binary or macro-averaged over ``labels``."""
        return float(
            function(
                self.y_true,
                self.y_pred,
                labels=self.labels,
                pos_label=self.labels[1] if self.binary else 1,
                average="binary" if self.binary else "macro",
                zero_division=0.0,
            )
        )


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


@computes("accuracy")
def _accuracy(rows: ScoredRows) -> float | None:
    return float(_sk().accuracy_score(rows.y_true, rows.y_pred))


@computes("balanced_accuracy")
def _balanced_accuracy(rows: ScoredRows) -> float | None:
    # mean recall over the classes present, as sklearn defines it, without its warnings on
    # slices that hold a single class
    support = rows.matrix.sum(axis=1)
    seen = support > 0
    return float(np.mean(np.diag(rows.matrix)[seen] / support[seen]))


@computes("precision")
def _precision(rows: ScoredRows) -> float | None:
    return rows.averaged(_sk().precision_score)


@computes("recall")
def _recall(rows: ScoredRows) -> float | None:
    return rows.averaged(_sk().recall_score)


@computes("f1")
def _f1(rows: ScoredRows) -> float | None:
    return rows.averaged(_sk().f1_score)


@computes("roc_auc")
def _roc_auc(rows: ScoredRows) -> float | None:
    if not rows.scored:
        return None
    if rows.binary:
        return float(_sk().roc_auc_score(rows.truth, rows.scores))
    if not rows.every_class_present:
        return None
    return float(
        _sk().roc_auc_score(
            rows.y_true, rows.proba, multi_class="ovr", average="macro", labels=rows.labels
        )
    )


@computes("pr_auc")
def _pr_auc(rows: ScoredRows) -> float | None:
    if not rows.scored:
        return None
    if rows.binary:
        return float(_sk().average_precision_score(rows.truth, rows.scores))
    if not rows.every_class_present:
        return None
    return float(_sk().average_precision_score(rows.onehot, rows.proba, average="macro"))


@computes("brier")
def _brier(rows: ScoredRows) -> float | None:
    if not rows.scored:
        return None
    if rows.binary:
        return float(_sk().brier_score_loss(rows.truth, rows.scores))
    return float(np.mean(np.sum((rows.proba - rows.onehot) ** 2, axis=1)))


@computes("ece")
def _ece(rows: ScoredRows) -> float | None:
    if not rows.scored:
        return None
    if rows.binary:
        return expected_calibration_error(rows.truth, rows.scores)
    assert rows.proba is not None
    top = rows.proba.argmax(axis=1)
    hit = (np.asarray(rows.labels)[top] == np.asarray(rows.y_true)).astype(int)
    return expected_calibration_error(hit, rows.proba.max(axis=1))


@computes("log_loss")
def _log_loss(rows: ScoredRows) -> float | None:
    if not rows.scored:
        return None
    assert rows.proba is not None
    # float32 outputs (XGBoost, onnxruntime) widened to float64 sum to 1 only to float32's
    # precision, which scikit-learn warns about; each row is renormalised first
    total = rows.proba.sum(axis=1, keepdims=True)
    normalised = rows.proba / np.where(total > 0, total, 1.0)
    return float(_sk().log_loss(rows.y_true, normalised, labels=rows.labels))


@computes("mae")
def _mae(rows: ScoredRows) -> float | None:
    return float(_sk().mean_absolute_error(rows.y_true, rows.y_pred))


@computes("rmse")
def _rmse(rows: ScoredRows) -> float | None:
    return float(np.sqrt(_sk().mean_squared_error(rows.y_true, rows.y_pred)))


@computes("r2")
def _r2(rows: ScoredRows) -> float | None:
    return float(_sk().r2_score(rows.y_true, rows.y_pred)) if len(rows.y_true) > 1 else None


@computes("mape")
def _mape(rows: ScoredRows) -> float | None:
    return float(_sk().mean_absolute_percentage_error(rows.y_true, rows.y_pred))
