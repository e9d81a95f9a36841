"""Seeded paired bootstrap of metric differences between a candidate and the champion.

Both models are scored on the same resampled rows, so the interval reflects the uncertainty of
the *difference*. Resampling uses Poisson(1) row weights (the standard large-sample equivalent of
drawing n rows with replacement), drawn from a lookup table so a million rows and a thousand
resamples take seconds. Weighted ROC AUC and average precision are computed from one sort per
model, exactly as the unweighted formulas on a resample with repeated rows would give.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from keel.domain.metric_specs import METRIC_SPECS

#: the quantiles kept for every metric difference: two-sided 80-99 % and one-sided bounds
QUANTILES = (0.005, 0.01, 0.025, 0.05, 0.1, 0.5, 0.9, 0.95, 0.975, 0.99, 0.995)
#: the metrics declared as compared with the champion: every classification metric but ECE,
#: whose bins make a resampled value too coarse to compare, and every regression metric but R²
SUPPORTED_BINARY = tuple(
    s.name for s in METRIC_SPECS if s.family == "classification" and s.compared
)
SUPPORTED_REGRESSION = tuple(
    s.name for s in METRIC_SPECS if s.family == "regression" and s.compared
)
_TABLE_BITS = 16


@functools.cache
def _poisson_table() -> np.ndarray:
    """Built once per process (the quantile function takes a noticeable fraction of a second)."""
    from scipy import stats

    u = (np.arange(2**_TABLE_BITS) + 0.5) / 2**_TABLE_BITS
    table = stats.poisson.ppf(u, 1.0).astype(np.float32)
    table.setflags(write=False)
    return table


@dataclass(frozen=True)
class Interval:
    metric: str
    observed: float
    quantiles: dict[str, float]
    resamples: int

    @property
    def low(self) -> float:
        return self.quantiles["0.025"]

    @property
    def high(self) -> float:
        return self.quantiles["0.975"]

    def lower_bound(self, confidence: float) -> float:
        """One-sided lower bound of the difference at ``confidence`` (0.9, 0.95, 0.975, 0.99...)."""
        return self.quantiles[_key(1.0 - confidence)]

    def upper_bound(self, confidence: float) -> float:
        return self.quantiles[_key(confidence)]

    def to_dict(self) -> dict[str, Any]:
        return {
            "metric": self.metric,
            "difference": self.observed,
            "ci95": [self.low, self.high],
            "quantiles": self.quantiles,
            "resamples": self.resamples,
        }


def _key(q: float) -> str:
    key = f"{round(q, 3):g}"
    if key not in {f"{x:g}" for x in QUANTILES}:
        raise ValueError(f"confidence {q} is not kept; use one of 0.9, 0.95, 0.975, 0.99, 0.995")
    return key


# -- weighted metrics over a block of resamples: weights have shape (rows, resamples) -----------
class _Ranking:
    """One model's scores sorted ascending, with tie groups, in the pair's reference row order.

    Weights arrive as (rows, resamples), so gathers, group sums and running sums move whole
    contiguous rows of resamples at a time.
    """

    def __init__(self, scores: np.ndarray, truth: np.ndarray, perm: np.ndarray | None) -> None:
        self.perm = perm  # None: the reference order already sorts these scores
        ordered = scores if perm is None else scores[perm]
        column = truth if perm is None else truth[perm]
        self.truth = column.astype(np.float32)[:, None]
        new_group = np.empty(len(ordered), dtype=bool)
        new_group[:1] = True
        new_group[1:] = ordered[1:] != ordered[:-1]
        self.starts = np.flatnonzero(new_group)
        self.tied = len(self.starts) < len(ordered)
        # weights are small whole numbers, so float32 running sums are exact below 2**24 in total
        self.sum_dtype = np.float32 if len(ordered) * 12 < 2**24 else np.float64

    def auc_and_ap(self, weights: np.ndarray, wanted: set[str]) -> dict[str, np.ndarray]:
        w: np.ndarray = weights if self.perm is None else weights[self.perm]
        pos: np.ndarray = w * self.truth
        if self.tied:
            pos = np.add.reduceat(pos, self.starts, axis=0)
            w = np.add.reduceat(w, self.starts, axis=0)
        neg = w - pos
        total_pos = pos.sum(axis=0, dtype=np.float64)
        out: dict[str, np.ndarray] = {}
        if "roc_auc" in wanted:
            below = np.cumsum(neg, axis=0, dtype=self.sum_dtype) - neg
            numerator = np.einsum("ij,ij->j", pos, below + 0.5 * neg, dtype=np.float64)
            total_neg = neg.sum(axis=0, dtype=np.float64)
            out["roc_auc"] = numerator / np.maximum(total_pos * total_neg, 1e-12)
        if "pr_auc" in wanted:
            # precision at each score threshold counts the rows scored at or above it
            tp_above = pos.sum(axis=0) - np.cumsum(pos, axis=0, dtype=self.sum_dtype) + pos
            seen_above = w.sum(axis=0) - np.cumsum(w, axis=0, dtype=self.sum_dtype) + w
            precision = tp_above / np.maximum(seen_above, 1)
            ap = np.einsum("ij,ij->j", pos, precision, dtype=np.float64)
            out["pr_auc"] = ap / np.maximum(total_pos, 1e-12)
        return out


class _BinaryScorer:
    """Per-row quantities of one model, so a block of resamples costs a few passes."""

    def __init__(
        self,
        truth: np.ndarray,
        pred: np.ndarray,
        ranking: _Ranking | None,
        scores: np.ndarray | None,
    ) -> None:
        self.hit_pos = (truth * pred).astype(np.float32)
        self.false_pos = ((1 - truth) * pred).astype(np.float32)
        self.miss_pos = (truth * (1 - pred)).astype(np.float32)
        self.ranking = ranking
        self.order: np.ndarray = np.arange(len(truth))
        self.logloss: np.ndarray | None = None
        self.brier: np.ndarray | None = None
        if scores is not None:
            clipped = np.clip(scores, 1e-15, 1 - 1e-15)
            loss = -(truth * np.log(clipped) + (1 - truth) * np.log(1 - clipped))
            self.logloss = loss.astype(np.float32)
            self.brier = ((scores - truth) ** 2).astype(np.float32)

    def block(self, weights: np.ndarray, metrics: Sequence[str]) -> dict[str, np.ndarray]:
        total = np.maximum(weights.sum(axis=0, dtype=np.float64), 1e-12)
        tp = self.hit_pos @ weights
        fp = self.false_pos @ weights
        fn = self.miss_pos @ weights
        tn = total - tp - fp - fn
        out: dict[str, np.ndarray] = {}
        safe = np.maximum
        for metric in metrics:
            if metric == "accuracy":
                out[metric] = (tp + tn) / total
            elif metric == "balanced_accuracy":
                out[metric] = 0.5 * (tp / safe(tp + fn, 1e-12) + tn / safe(tn + fp, 1e-12))
            elif metric == "precision":
                out[metric] = tp / safe(tp + fp, 1e-12)
            elif metric == "recall":
                out[metric] = tp / safe(tp + fn, 1e-12)
            elif metric == "f1":
                out[metric] = 2 * tp / safe(2 * tp + fp + fn, 1e-12)
            elif metric == "log_loss" and self.logloss is not None:
                out[metric] = (self.logloss @ weights) / total
            elif metric == "brier" and self.brier is not None:
                out[metric] = (self.brier @ weights) / total
        if self.ranking is not None:
            out.update(self.ranking.auc_and_ap(weights, {"roc_auc", "pr_auc"} & set(metrics)))
        return out


def _binary_pair(
    truth: np.ndarray,
    candidate: tuple[np.ndarray, np.ndarray | None],
    champion: tuple[np.ndarray, np.ndarray | None],
) -> tuple[_BinaryScorer, _BinaryScorer]:
    """Put both models in the candidate's score order, so only the champion needs a gather."""
    (pred_a, scores_a), (pred_b, scores_b) = candidate, champion
    reference = np.argsort(scores_a, kind="mergesort") if scores_a is not None else None

    def in_ref(values: np.ndarray) -> np.ndarray:
        return values if reference is None else np.asarray(values)[reference]

    truth_r = in_ref(truth)
    rank_a = _Ranking(in_ref(scores_a), truth_r, None) if scores_a is not None else None
    rank_b = None
    if scores_b is not None:
        ordered_b = in_ref(scores_b)
        rank_b = _Ranking(ordered_b, truth_r, np.argsort(ordered_b, kind="mergesort"))
    a = _BinaryScorer(
        truth_r, in_ref(pred_a), rank_a, None if scores_a is None else in_ref(scores_a)
    )
    b = _BinaryScorer(
        truth_r, in_ref(pred_b), rank_b, None if scores_b is None else in_ref(scores_b)
    )
    order = reference if reference is not None else np.arange(len(truth))
    a.order = b.order = order
    return a, b


class _RegressionScorer:
    def __init__(self, truth: np.ndarray, pred: np.ndarray) -> None:
        error = pred - truth
        self.abs = np.abs(error).astype(np.float32)
        self.sq = (error**2).astype(np.float32)
        eps = np.finfo(np.float64).eps
        self.pct = (np.abs(error) / np.maximum(np.abs(truth), eps)).astype(np.float32)

    def block(self, weights: np.ndarray, metrics: Sequence[str]) -> dict[str, np.ndarray]:
        total = np.maximum(weights.sum(axis=0, dtype=np.float64), 1e-12)
        out: dict[str, np.ndarray] = {}
        if "mae" in metrics:
            out["mae"] = (self.abs @ weights) / total
        if "rmse" in metrics:
            out["rmse"] = np.sqrt((self.sq @ weights) / total)
        if "mape" in metrics:
            out["mape"] = (self.pct @ weights) / total
        return out


def paired_bootstrap(
    make_scorer: Callable[[], tuple[Any, Any]],
    observed: dict[str, float],
    counts: np.ndarray | None,
    rows: int,
    metrics: Sequence[str],
    *,
    resamples: int = 1000,
    seed: int = 0,
    block_size: int | None = None,
) -> dict[str, Interval]:
    """Bootstrap intervals for ``candidate - champion`` of every metric in ``metrics``.

    ``counts`` is None when the scorers hold one entry per row (weights: Poisson(1) each), or the
    number of rows behind each aggregated cell (weights: Poisson(count), the exact law of a sum of
    that many Poisson(1) row weights).
    """
    candidate, champion = make_scorer()
    rng = np.random.default_rng(seed)
    table = _poisson_table() if counts is None else None
    width = rows if counts is None else len(counts)
    # blocks of at most ~16 MB per array let the allocator reuse memory instead of mapping it anew
    block = block_size or max(1, min(64, int(4e6 // max(width, 1))))
    diffs: dict[str, list[np.ndarray]] = {m: [] for m in metrics}
    done = 0
    while done < resamples:
        size = min(block, resamples - done)
        if counts is None:
            assert table is not None
            weights = table[rng.integers(0, 2**_TABLE_BITS, size=(rows, size), dtype=np.uint32)]
        else:
            weights = rng.poisson(counts[:, None], size=(width, size)).astype(np.float32)
        a = candidate.block(weights, metrics)
        b = champion.block(weights, metrics)
        for metric in metrics:
            if metric in a and metric in b:
                diffs[metric].append(a[metric] - b[metric])
        done += size
    centre: dict[str, float] = {}
    if counts is not None:  # centre the aggregated resamples on the exact observed difference
        whole = counts.astype(np.float32)[:, None]
        a, b = candidate.block(whole, metrics), champion.block(whole, metrics)
        centre = {m: float(a[m][0] - b[m][0]) for m in metrics if m in a and m in b}
    out: dict[str, Interval] = {}
    for metric, parts in diffs.items():
        if not parts or metric not in observed:
            continue
        values = np.concatenate(parts) - centre.get(metric, observed[metric]) + observed[metric]
        qs = np.quantile(values, QUANTILES)
        out[metric] = Interval(
            metric,
            observed[metric],
            {f"{q:g}": float(v) for q, v in zip(QUANTILES, qs, strict=True)},
            resamples,
        )
    return out


#: above this many rows, rows are pooled into cells before resampling (see ``_cells``)
EXACT_ROWS = 50_000
SCORE_BINS = 256


def _cells(
    truth: np.ndarray,
    candidate: tuple[np.ndarray, np.ndarray | None],
    champion: tuple[np.ndarray, np.ndarray | None],
    bins: int = SCORE_BINS,
) -> tuple[
    np.ndarray,
    np.ndarray,
    tuple[np.ndarray, np.ndarray | None],
    tuple[np.ndarray, np.ndarray | None],
    dict[str, np.ndarray],
]:
    """Pool rows that agree on label, both predictions and both score quantile bins.

    Confusion-based metrics are unchanged by pooling; scores are replaced by their bin's mean (so
    ROC AUC and average precision count rows within one bin as ties) and log loss and Brier score
    by the cell's mean, which changes a resample's value only slightly and the interval, centred
    on the exact observed difference, less still.
    """
    key = truth.astype(np.int64) * 2 + candidate[0].astype(np.int64)
    key = key * 2 + champion[0].astype(np.int64)
    binned: list[np.ndarray] = []
    for _, scores in (candidate, champion):
        if scores is None:
            binned.append(np.zeros(len(truth), dtype=np.int64))
            continue
        edges = np.unique(np.quantile(scores, np.linspace(0, 1, bins + 1)[1:-1]))
        binned.append(np.searchsorted(edges, scores, side="right").astype(np.int64))
    key = (key * (bins + 1) + binned[0]) * (bins + 1) + binned[1]
    unique, inverse, counts = np.unique(key, return_inverse=True, return_counts=True)

    def mean(values: np.ndarray) -> np.ndarray:
        return np.bincount(inverse, weights=values, minlength=len(unique)) / counts

    cell_truth = np.round(mean(truth.astype(float)))
    models = []
    sums: dict[str, np.ndarray] = {}
    for label, (pred, scores) in (("a", candidate), ("b", champion)):
        cell_scores = None
        if scores is not None:
            cell_scores = mean(scores)
            clipped = np.clip(scores, 1e-15, 1 - 1e-15)
            sums[f"logloss_{label}"] = mean(
                -(truth * np.log(clipped) + (1 - truth) * np.log(1 - clipped))
            )
            sums[f"brier_{label}"] = mean((scores - truth) ** 2)
        models.append((np.round(mean(pred.astype(float))), cell_scores))
    return counts, cell_truth, models[0], models[1], sums


def binary_bootstrap(
    truth: np.ndarray,
    candidate: tuple[np.ndarray, np.ndarray | None],
    champion: tuple[np.ndarray, np.ndarray | None],
    observed: dict[str, float],
    metrics: Sequence[str] = SUPPORTED_BINARY,
    **options: Any,
) -> dict[str, Interval]:
    """``truth`` and predictions as 0/1, scores as the positive-class probability."""
    wanted = [m for m in metrics if m in SUPPORTED_BINARY]
    truth = np.asarray(truth, dtype=np.float64)
    rows = len(truth)
    if rows <= EXACT_ROWS:
        return paired_bootstrap(
            lambda: _binary_pair(truth, candidate, champion),
            observed,
            None,
            rows,
            wanted,
            **options,
        )
    counts, cell_truth, cell_a, cell_b, losses = _cells(truth, candidate, champion)

    def scorers() -> tuple[_BinaryScorer, _BinaryScorer]:
        a, b = _binary_pair(cell_truth, cell_a, cell_b)
        for scorer, label, order in ((a, "a", a.order), (b, "b", b.order)):
            if f"logloss_{label}" in losses:
                scorer.logloss = losses[f"logloss_{label}"][order].astype(np.float32)
                scorer.brier = losses[f"brier_{label}"][order].astype(np.float32)
        return a, b

    pair = scorers()
    ordered_counts = counts[pair[0].order]
    return paired_bootstrap(lambda: pair, observed, ordered_counts, rows, wanted, **options)


def regression_bootstrap(
    truth: np.ndarray,
    candidate: np.ndarray,
    champion: np.ndarray,
    observed: dict[str, float],
    metrics: Sequence[str] = SUPPORTED_REGRESSION,
    **options: Any,
) -> dict[str, Interval]:
    wanted = [m for m in metrics if m in SUPPORTED_REGRESSION]
    truth = np.asarray(truth, dtype=np.float64)
    return paired_bootstrap(
        lambda: (_RegressionScorer(truth, candidate), _RegressionScorer(truth, champion)),
        observed,
        None,
        len(truth),
        wanted,
        **options,
    )


#: a multi-class model's compared metrics that are means of one value per row
SUPPORTED_MULTICLASS = tuple(
    s.name for s in METRIC_SPECS if s.family == "classification" and s.compared and s.row_mean
)


class _MeanScorer:
    """Metrics that are means of one value per row (accuracy, log loss, Brier score)."""

    def __init__(self, per_row: dict[str, np.ndarray]) -> None:
        self.per_row = {k: v.astype(np.float32) for k, v in per_row.items()}

    def block(self, weights: np.ndarray, metrics: Sequence[str]) -> dict[str, np.ndarray]:
        total = np.maximum(weights.sum(axis=0, dtype=np.float64), 1e-12)
        return {m: (self.per_row[m] @ weights) / total for m in metrics if m in self.per_row}


def multiclass_bootstrap(
    truth: np.ndarray,
    pred_a: np.ndarray,
    pred_b: np.ndarray,
    proba_a: np.ndarray | None,
    proba_b: np.ndarray | None,
    classes: Sequence[Any],
    observed: dict[str, float],
    metrics: Sequence[str] = SUPPORTED_MULTICLASS,
    **options: Any,
) -> dict[str, Interval]:
    """Intervals for the metrics of a multi-class model that are means over rows."""
    onehot = (np.asarray(truth)[:, None] == np.asarray(classes)[None, :]).astype(float)

    def per_row(pred: np.ndarray, proba: np.ndarray | None) -> dict[str, np.ndarray]:
        out = {"accuracy": (pred == truth).astype(float)}
        if proba is not None:
            picked = np.clip(np.sum(proba * onehot, axis=1), 1e-15, 1.0)
            out["log_loss"] = -np.log(picked)
            out["brier"] = np.sum((proba - onehot) ** 2, axis=1)
        return out

    wanted = [m for m in metrics if m in SUPPORTED_MULTICLASS]
    scorers = (_MeanScorer(per_row(pred_a, proba_a)), _MeanScorer(per_row(pred_b, proba_b)))
    return paired_bootstrap(lambda: scorers, observed, None, len(truth), wanted, **options)
