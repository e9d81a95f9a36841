"""Alert limits with no number typed: how far a metric strays from its reference by chance.

``accuracy below reference`` and ``estimated_roc_auc below reference`` (``rmse above
reference`` for a metric where lower is better) fire when the window's value passes a limit
derived from the version's held-out reference rows (``keel.monitoring.held_out``), never from a
guess typed into the policy:

1. the reference's labelled rows are cut into ``CHUNKS`` chunks the size of a live window
   (the policy's ``window.rows``; at most ``CHUNK_CAP`` rows), drawn with replacement so that a
   reference smaller than a few windows still shows its spread;
2. the metric's realized value on each chunk gives its mean and its standard deviation ``sd``
   at that size; ``unit_sd = sd * sqrt(chunk_rows)`` is the spread of one row's worth, and a
   window of ``n`` rows strays by ``unit_sd / sqrt(n)`` (a rule over the mean of k windows by
   ``sqrt(sum(unit_sd**2 / n_i)) / k``);
3. the reference's own mean is known only to ``unit_sd / sqrt(reference_rows)``, which adds;
4. the limit is ``mean - SIGMAS * spread`` (``+`` where lower is better), with ``SIGMAS = 3``.

The same limit serves the realized metric (from labels) and its label-free estimate: both are
read as "the window's accuracy" and held to where a no-shift window's realized accuracy can fall
by chance (as NannyML's CBPE thresholds are). At three standard deviations one look at one
metric of a window with nothing changed crosses it about once in 700.

>>> import numpy as np
>>> rng = np.random.default_rng(0)
>>> truth = rng.integers(0, 2, 20_000)
>>> prediction = np.where(rng.random(20_000) < 0.9, truth, 1 - truth)   # 90% right
>>> limits = build_limits("classification", [0, 1], truth, prediction, None, chunk_rows=1_000)
>>> accuracy = limits.metrics["accuracy"]
>>> round(accuracy.mean, 2), 0.85 < accuracy.limit([1_000]) < 0.9
(0.9, True)
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from keel.domain.metric_names import LOWER_IS_BETTER
from keel.errors import InvalidInput

__all__ = ["CHUNKS", "CHUNK_CAP", "SIGMAS", "MetricLimit", "ReferenceLimits", "build_limits"]

#: how many standard deviations from the reference mean a window may stray before it alerts
SIGMAS = 3.0
#: chunks drawn from the reference to measure the spread
CHUNKS = 200
#: rows per chunk, at most (larger windows scale the spread by the square root of their size)
CHUNK_CAP = 10_000
#: the window size assumed when windows are cut by time
DEFAULT_CHUNK_ROWS = 5_000
RULE = (
    "limit = reference mean - 3 x sqrt(unit_sd^2 / window rows + unit_sd^2 / reference rows) "
    "(+ for metrics where lower is better); unit_sd = the metric's standard deviation over "
    "chunks of chunk_rows reference rows x sqrt(chunk_rows)"
)


@dataclass(frozen=True)
class MetricLimit:
    """One metric's spread on the reference and the limit it gives a window of any size."""

    metric: str
    mean: float
    sd: float  # over chunks of ``chunk_rows`` rows
    chunk_rows: int
    chunks: int
    reference_rows: int

    @property
    def higher_is_better(self) -> bool:
        return self.metric not in LOWER_IS_BETTER

    @property
    def unit_sd(self) -> float:
        return self.sd * math.sqrt(self.chunk_rows)

    def spread(self, rows: Sequence[int]) -> float:
        """The standard deviation, with nothing changed, of the mean of windows of ``rows``
        rows each against the reference mean."""
        sizes = [max(1, int(r)) for r in rows] or [self.chunk_rows]
        windows = sum(self.unit_sd**2 / r for r in sizes) / len(sizes) ** 2
        own = self.unit_sd**2 / max(1, self.reference_rows)
        return math.sqrt(windows + own)

    def limit(self, rows: Sequence[int]) -> float:
        step = SIGMAS * self.spread(rows)
        return self.mean - step if self.higher_is_better else self.mean + step

    def explain(self, rows: Sequence[int]) -> dict[str, Any]:
        """How the limit for ``rows`` came about, for an alert's details and reports."""
        return {
            "metric": self.metric,
            "limit": self.limit(rows),
            "mean": self.mean,
            "sd": self.sd,
            "chunk_rows": self.chunk_rows,
            "chunks": self.chunks,
            "reference_rows": self.reference_rows,
            "window_rows": [int(r) for r in rows],
            "sigmas": SIGMAS,
            "rule": RULE,
        }

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class ReferenceLimits:
    """Every metric's spread on one version's held-out reference rows."""

    source: str
    chunk_rows: int
    metrics: dict[str, MetricLimit] = field(default_factory=dict)

    def get(self, metric: str) -> MetricLimit | None:
        """The limit of ``metric`` (``estimated_accuracy`` reads ``accuracy``'s)."""
        return self.metrics.get(metric.removeprefix("estimated_"))

    def to_dict(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "chunk_rows": self.chunk_rows,
            "metrics": {name: entry.to_dict() for name, entry in self.metrics.items()},
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ReferenceLimits:
        try:
            return cls(
                source=str(data["source"]),
                chunk_rows=int(data["chunk_rows"]),
                metrics={
                    name: MetricLimit(**entry) for name, entry in dict(data["metrics"]).items()
                },
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise InvalidInput("limits", f"not stored reference limits: {exc!r}") from exc


def build_limits(
    task: str,
    classes: Sequence[Any],
    truth: np.ndarray,
    prediction: np.ndarray,
    score: np.ndarray | None,
    *,
    chunk_rows: int | None,
    source: str = "held-out",
    seed: int = 0,
) -> ReferenceLimits:
    """Each metric's mean and chunk-to-chunk spread over held-out rows (see the module notes).

    Classification: accuracy; for two classes also precision, recall and F1 of ``classes[1]``,
    and ROC AUC and Brier score when ``score`` (P(classes[1])) is given. Regression: MAE, RMSE
    and R². Values are computed as ``keel.evaluation.metrics`` defines them (a test holds the
    two to the same numbers), vectorised over the chunks.
    """
    size = min(CHUNK_CAP, max(10, int(chunk_rows or DEFAULT_CHUNK_ROWS)))
    if task == "regression":
        truth, prediction = np.asarray(truth, float), np.asarray(prediction, float)
        usable = np.isfinite(truth) & np.isfinite(prediction)
        truth, prediction = truth[usable], prediction[usable]
    rows = len(truth)
    if rows == 0:
        return ReferenceLimits(source, size)
    pick = np.random.default_rng(seed).integers(0, rows, (CHUNKS, size))
    if task == "regression":
        values = _regression(truth, prediction, pick)
    else:
        values = _classification(list(classes), truth, prediction, score, pick)
    metrics = {}
    for name, per_chunk in values.items():
        finite = per_chunk[np.isfinite(per_chunk)]
        if len(finite) < CHUNKS // 2:  # most chunks cannot measure it (one class only, say)
            continue
        metrics[name] = MetricLimit(
            metric=name,
            mean=float(finite.mean()),
            sd=float(finite.std(ddof=1)),
            chunk_rows=size,
            chunks=len(finite),
            reference_rows=rows,
        )
    return ReferenceLimits(source, size, metrics)


def _ratio(numerator: np.ndarray, denominator: np.ndarray) -> np.ndarray:
    """0 where the denominator is (scikit-learn's ``zero_division=0``)."""
    safe = np.where(denominator > 0, denominator, 1)
    return np.where(denominator > 0, numerator / safe, 0.0)


def _classification(
    classes: list[Any],
    truth: np.ndarray,
    prediction: np.ndarray,
    score: np.ndarray | None,
    pick: np.ndarray,
) -> dict[str, np.ndarray]:
    names = [str(c) for c in classes]
    label = np.array([str(t) for t in truth], dtype=object)
    guess = np.array([str(p) for p in prediction], dtype=object)
    right = (label == guess)[pick]
    out = {"accuracy": right.mean(axis=1)}
    if len(names) != 2:
        return out
    actual = (label == names[1])[pick]
    said = (guess == names[1])[pick]
    tp = (actual & said).sum(axis=1).astype(float)
    fp = (~actual & said).sum(axis=1).astype(float)
    fn = (actual & ~said).sum(axis=1).astype(float)
    out["precision"] = _ratio(tp, tp + fp)
    out["recall"] = _ratio(tp, tp + fn)
    out["f1"] = _ratio(2 * tp, 2 * tp + fp + fn)
    if score is not None and np.isfinite(score).all():
        from scipy.stats import rankdata

        chunk_scores = np.asarray(score, float)[pick]
        ranks = rankdata(chunk_scores, axis=1)  # mid-ranks: ties count half
        positives = actual.sum(axis=1).astype(float)
        negatives = actual.shape[1] - positives
        with np.errstate(divide="ignore", invalid="ignore"):
            auc = ((ranks * actual).sum(axis=1) - positives * (positives + 1) / 2) / (
                positives * negatives
            )
        out["roc_auc"] = np.where((positives > 0) & (negatives > 0), auc, np.nan)
        out["brier"] = ((chunk_scores - actual) ** 2).mean(axis=1)
    return out


def _regression(truth: np.ndarray, prediction: np.ndarray, pick: np.ndarray) -> dict[str, Any]:
    y, error = truth[pick], (prediction - truth)[pick]
    total = ((y - y.mean(axis=1, keepdims=True)) ** 2).sum(axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        r2 = np.where(total > 0, 1 - (error**2).sum(axis=1) / total, np.nan)
    return {
        "mae": np.abs(error).mean(axis=1),
        "rmse": np.sqrt((error**2).mean(axis=1)),
        "r2": r2,
    }
