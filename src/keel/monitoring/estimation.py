"""Label-free performance estimates (confidence-based performance estimation, CBPE).

Labels of production predictions arrive late or never, but a classifier whose scores are
calibrated already says how often it is right: a row predicted positive with P(positive) = 0.8 is
a true positive 80 % of the time. Summing those probabilities over a window gives the expected
confusion matrix, and from it the expected accuracy, precision, recall and F1 (and ROC AUC) of the
window: what the labelled metrics will be once the labels arrive, if the calibration still holds.

Raw scores are rarely calibrated, so ``fit_calibration`` learns the map from score to probability
on reference data that has labels (the model's outputs on held-out rows): an isotonic regression
of P(positive | score) for binary problems and of P(correct | top-class confidence) for multi-class
ones. Without labels, the identity calibrator takes the scores at their word.

What an estimate cannot see: a change in P(label | features) (concept drift) leaves the scores as
confident as before, so CBPE misses it; it sees changes in the inputs (covariate shift) that move
the scores. Pair it with the delayed-label metrics and the drift tests.

The calibrator must learn from rows the model never trained on: a model's scores on its own
training rows are over-confident and mostly right, so a map learnt there says "right" too often
(``keel.monitoring.references`` picks held-out rows, or out-of-fold scores, for it).

Bands cover two sources of error. The window's labels: the accuracy is a sum of independent
Bernoulli(c_i) outcomes (c_i the calibrated chance that row i is right), with variance
sum c_i (1 - c_i). And the calibration itself, learnt from a finite reference: ``fit_calibration``
refits the map on ``CALIBRATION_RESAMPLES`` bootstrap resamples of the reference and keeps each
refit's difference from the fit on a grid of scores; the spread of the window's estimate over
those refits is the calibration's share, and their mean shift is its bias, taken off the
accuracy estimate (see ``_calibration_error``). The accuracy band is normal with both variances
added;
precision, recall, F1 and ROC AUC are ratios, so theirs come from a seeded parametric bootstrap
whose draws take their labels from the calibrated probabilities of one refit each. What no band
covers: a change in P(label | score) after the reference. Where the inputs moved, a monitoring
run refits the map on the reference rows weighted like the window (``sample_weight``; see
``keel.monitoring.window_estimate``), which restores it as long as P(label | inputs) held.

>>> import numpy as np
>>> rng = np.random.default_rng(0)
>>> p = rng.beta(2, 2, 5_000)                       # calibrated P(class 1)
>>> estimate = estimate_performance((p >= 0.5).astype(int), p, [0, 1])
>>> round(estimate.metrics["accuracy"], 3) == round(float(np.mean(np.maximum(p, 1 - p))), 3)
True
>>> low, high = estimate.bands["accuracy"]
>>> low < estimate.metrics["accuracy"] < high
True
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

from keel.domain.metric_specs import metric_names
from keel.errors import InvalidInput

__all__ = [
    "Calibrator",
    "PerformanceEstimate",
    "estimate_performance",
    "fit_calibration",
]

Task = Literal["binary", "multiclass"]
#: the metrics each task can be estimated for (names as in keel.domain.policy): for binary
#: classifiers, the metrics the estimated family declares (``estimated_f1`` estimates ``f1``)
BINARY_METRICS = tuple(name.removeprefix("estimated_") for name in metric_names("estimated"))
MULTICLASS_METRICS = ("accuracy",)
#: labels drawn per bootstrap block, at most (bounds memory: draws x rows of float64)
DRAW_CELLS = 2_000_000
#: bootstrap refits of the calibrator kept to measure its own uncertainty
CALIBRATION_RESAMPLES = 50
#: the scores each refit is kept at: quantiles of the reference scores, at most this many
GRID_POINTS = 64


@dataclass(frozen=True)
class Calibrator:
    """A monotone map from a model's score to a calibrated probability.

    Binary: score = P(classes[1]) -> P(the label is classes[1]); multi-class: the top-class
    probability -> P(the prediction is right). Stored as the knots of the isotonic fit and
    applied by linear interpolation between them, clipped at the ends, as scikit-learn's
    ``IsotonicRegression(out_of_bounds="clip").predict`` does. ``reference_rows == 0`` marks the
    identity (no reference labels: the scores are assumed calibrated).

    ``shifts`` holds, per bootstrap refit of the map, its difference from this fit at the scores
    of ``grid`` (empty: the calibration's own uncertainty is not known, and bands leave it out).
    """

    task: Task
    classes: tuple[Any, ...]
    thresholds: tuple[float, ...] = (0.0, 1.0)
    values: tuple[float, ...] = (0.0, 1.0)
    reference_rows: int = 0
    grid: tuple[float, ...] = ()
    shifts: tuple[tuple[float, ...], ...] = ()

    @classmethod
    def identity(cls, classes: Sequence[Any]) -> Calibrator:
        """The calibrator that leaves scores as they are."""
        plain = _classes(classes)
        return cls(task=_task(plain), classes=plain)

    @property
    def is_identity(self) -> bool:
        return self.reference_rows == 0

    def apply(self, score: np.ndarray) -> np.ndarray:
        """Calibrated probabilities for ``score`` (values in [0, 1])."""
        return np.interp(np.asarray(score, dtype=float), self.thresholds, self.values)

    @property
    def resamples(self) -> int:
        return len(self.shifts)

    def resampled(self, score: np.ndarray, p: np.ndarray, index: int) -> np.ndarray:
        """The calibrated probabilities ``p`` of ``score`` as bootstrap refit ``index`` gives
        them."""
        shift = np.interp(score, self.grid, self.shifts[index])
        return np.clip(p + shift, 0.0, 1.0)

    def to_dict(self) -> dict[str, Any]:
        return {
            "task": self.task,
            "classes": list(self.classes),
            "thresholds": list(self.thresholds),
            "values": list(self.values),
            "reference_rows": self.reference_rows,
            "grid": list(self.grid),
            "shifts": [list(row) for row in self.shifts],
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Calibrator:
        try:
            calibrator = cls(
                task=data["task"],
                classes=tuple(data["classes"]),
                thresholds=tuple(float(x) for x in data["thresholds"]),
                values=tuple(float(y) for y in data["values"]),
                reference_rows=int(data["reference_rows"]),
                grid=tuple(float(x) for x in data.get("grid", ())),
                shifts=tuple(tuple(float(y) for y in row) for row in data.get("shifts", ())),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise InvalidInput("calibrator", f"not a stored calibrator: {exc!r}") from exc
        knots = np.asarray(calibrator.thresholds)
        if (
            calibrator.task != _task(calibrator.classes)
            or len(calibrator.thresholds) != len(calibrator.values)
            or not calibrator.thresholds
            or np.any(np.diff(knots) < 0)
            or np.any(np.diff(np.asarray(calibrator.grid)) < 0)
            or any(len(row) != len(calibrator.grid) for row in calibrator.shifts)
        ):
            raise InvalidInput("calibrator", "task, classes or knots are inconsistent")
        return calibrator


@dataclass(frozen=True)
class PerformanceEstimate:
    """Estimated metrics of one window, each with a band at ``confidence``.

    ``rows`` counts the rows used; ``skipped_rows`` those left out because their score was
    missing. ``confusion_matrix`` (binary only) holds expected counts, rows the true class and
    columns the predicted class, as ``keel.evaluation.metrics`` lays out the realised one.
    """

    metrics: dict[str, float]
    bands: dict[str, tuple[float, float]]
    rows: int
    calibrated: bool
    confidence: float
    skipped_rows: int = 0
    confusion_matrix: dict[str, Any] | None = None
    method: Literal["cbpe"] = "cbpe"
    draws: int = 0

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe: a metric that cannot be estimated (NaN) becomes None."""
        return {
            "method": self.method,
            "calibrated": self.calibrated,
            "rows": self.rows,
            "skipped_rows": self.skipped_rows,
            "confidence": self.confidence,
            "draws": self.draws,
            "metrics": {name: _finite(value) for name, value in self.metrics.items()},
            "bands": {
                name: None if not all(map(math.isfinite, band)) else [band[0], band[1]]
                for name, band in self.bands.items()
            },
            "confusion_matrix": self.confusion_matrix,
        }


def fit_calibration(
    y_true: Sequence[Any] | np.ndarray | None,
    y_pred: Sequence[Any] | np.ndarray,
    score: Sequence[float] | np.ndarray,
    classes: Sequence[Any],
    *,
    resamples: int = CALIBRATION_RESAMPLES,
    seed: int = 0,
    sample_weight: Sequence[float] | np.ndarray | None = None,
) -> Calibrator:
    """Learn the score-to-probability map on reference rows that have labels.

    Binary: ``score`` is P(classes[1]) and the fit is P(label == classes[1] | score); multi-class:
    ``score`` is the top-class probability and the fit is P(label == prediction | score). Rows
    whose label or score is missing are left out; with no labelled row left (or ``y_true`` None)
    the identity calibrator comes back, and estimates then take the scores at their word.
    The rows must be ones the model did not train on (see the module notes). ``resamples``
    seeded bootstrap refits measure the fit's own uncertainty (0: none kept).
    ``sample_weight`` weights the rows (importance weights that make the reference look like a
    shifted window, ``keel.monitoring.shift_weights``); the refits resample rows with their
    weights, so a few heavy rows make a wide band, as they should.
    """
    plain = _classes(classes)
    if y_true is None:
        return Calibrator.identity(plain)
    truth = np.asarray(y_true, dtype=object)
    predicted = np.asarray(y_pred, dtype=object)
    scores = _scores(score)
    if not len(truth) == len(predicted) == len(scores):
        raise InvalidInput(
            "reference",
            f"y_true, y_pred and score differ in length: "
            f"{len(truth)}, {len(predicted)}, {len(scores)}",
        )
    weight = _weights(sample_weight, len(scores))
    keep = ~(_missing(truth) | np.isnan(scores)) & (weight > 0)
    truth, predicted, scores, weight = truth[keep], predicted[keep], scores[keep], weight[keep]
    if len(truth) == 0:
        return Calibrator.identity(plain)
    _check_members("y_true", truth, plain)
    _check_members("y_pred", predicted, plain)
    task = _task(plain)
    target = truth == plain[1] if task == "binary" else truth == predicted
    from sklearn.isotonic import IsotonicRegression

    def isotonic() -> IsotonicRegression:
        return IsotonicRegression(y_min=0.0, y_max=1.0, increasing=True, out_of_bounds="clip")

    outcome = target.astype(float)
    fitted = isotonic().fit(scores, outcome, sample_weight=weight)
    grid: tuple[float, ...] = ()
    shifts: list[tuple[float, ...]] = []
    if resamples > 0 and len(scores) > 1:
        levels = np.unique(np.quantile(scores, np.linspace(0.0, 1.0, GRID_POINTS)))
        grid = tuple(float(x) for x in levels)
        at_grid = fitted.predict(levels)
        rng = np.random.default_rng(seed)
        for _ in range(resamples):
            pick = rng.integers(0, len(scores), len(scores))
            refit = isotonic().fit(scores[pick], outcome[pick], sample_weight=weight[pick])
            shifts.append(tuple(float(d) for d in refit.predict(levels) - at_grid))
    return Calibrator(
        task=task,
        classes=plain,
        thresholds=tuple(float(x) for x in fitted.X_thresholds_),
        values=tuple(float(y) for y in fitted.y_thresholds_),
        reference_rows=len(truth),
        grid=grid,
        shifts=tuple(shifts),
    )


def estimate_performance(
    y_pred: Sequence[Any] | np.ndarray,
    score: Sequence[float] | np.ndarray,
    classes: Sequence[Any],
    calibrator: Calibrator | None = None,
    confidence: float = 0.95,
    *,
    draws: int = 200,
    seed: int = 0,
) -> PerformanceEstimate:
    """Expected metrics of a window of predictions without labels, with bands.

    Binary: ``score`` is P(classes[1]); the estimate covers accuracy, precision, recall, F1 (of
    classes[1]) and ROC AUC. Multi-class: ``score`` is the top-class probability, and only the
    accuracy can be estimated (the other metrics need every class's probability). The bootstrap
    is seeded, so the same window always gets the same bands.
    """
    plain = _classes(classes)
    task = _task(plain)
    calibrator = calibrator or Calibrator.identity(plain)
    if calibrator.task != task or tuple(calibrator.classes) != plain:
        raise InvalidInput(
            "calibrator",
            f"was fitted for {calibrator.task} classes {list(calibrator.classes)}, "
            f"not for {list(plain)}",
        )
    if not 0.0 < confidence < 1.0:
        raise InvalidInput("confidence", f"must lie in (0, 1), got {confidence!r}")
    if draws < 1:
        raise InvalidInput("draws", f"must be at least 1, got {draws!r}")
    predicted = np.asarray(y_pred, dtype=object)
    scores = _scores(score)
    if len(predicted) != len(scores):
        raise InvalidInput(
            "predictions", f"y_pred and score differ in length: {len(predicted)}, {len(scores)}"
        )
    if len(predicted) == 0:
        raise InvalidInput("predictions", "no rows to estimate from")
    missing = np.isnan(scores)
    if missing.all():
        raise InvalidInput("score", f"all {len(scores)} scores are missing")
    predicted, scores = predicted[~missing], scores[~missing]
    _check_members("y_pred", predicted, plain)
    p = calibrator.apply(scores)
    common: dict[str, Any] = {
        "rows": len(scores),
        "calibrated": not calibrator.is_identity,
        "confidence": confidence,
        "skipped_rows": int(missing.sum()),
    }
    if task == "multiclass":
        bias, spread = _calibration_error(calibrator, scores, p, np.ones(len(p)))
        accuracy = _clipped(float(p.mean()) - bias)
        metrics = {"accuracy": accuracy}
        bands = {"accuracy": _accuracy_band(p, confidence, spread, accuracy)}
        return PerformanceEstimate(metrics, bands, **common)
    positive = predicted == plain[1]
    right = np.where(positive, p, 1.0 - p)  # the chance each prediction is right
    tp, fp = float(p[positive].sum()), float((1.0 - p[positive]).sum())
    fn, tn = float(p[~positive].sum()), float((1.0 - p[~positive]).sum())
    bias, spread = _calibration_error(calibrator, scores, p, np.where(positive, 1.0, -1.0))
    metrics = {
        "accuracy": _clipped(float(right.mean()) - bias),
        "precision": _ratio(tp, tp + fp),
        "recall": _ratio(tp, tp + fn),
        "f1": _ratio(2 * tp, 2 * tp + fp + fn),
        "roc_auc": _expected_auc(scores, p),
    }
    bands = _bootstrap_bands(scores, p, positive, metrics, confidence, draws, seed, calibrator)
    bands["accuracy"] = _accuracy_band(right, confidence, spread, metrics["accuracy"])
    matrix = {"labels": list(plain), "matrix": [[tn, fp], [fn, tp]]}
    return PerformanceEstimate(metrics, bands, **common, confusion_matrix=matrix, draws=draws)


# -- the estimates ------------------------------------------------------------------------------
def _calibration_error(
    calibrator: Calibrator, score: np.ndarray, p: np.ndarray, sign: np.ndarray
) -> tuple[float, float]:
    """The bias and standard deviation of the window's estimated accuracy over the
    calibrator's bootstrap refits: how the estimate moves with the reference it was learnt from.
    ``sign`` is +1 where the chance of being right is p, -1 where it is 1 - p.

    The bias is there: an isotonic fit's end blocks chase their few rows' noise outwards (the
    top one up, the bottom one down), and both ways make the rows there look more often right,
    so a map learnt from a finite reference overstates accuracy (by 0.002 with 10,000 reference
    rows in a seeded simulation, against a standard error of 0.004). The refits overstate it in
    the same way relative to the fit, so their mean difference estimates the bias (the
    bootstrap's bias correction). It takes off only part of the bias (0.0074 down to 0.0046
    over 300 seeds with 1,000 reference rows), so the spread returned counts the estimated bias
    once more beside the refits' standard deviation: what is left is of its order."""
    if calibrator.resamples < 2:
        return 0.0, 0.0
    means = [
        float(np.mean(sign * (calibrator.resampled(score, p, b) - p)))
        for b in range(calibrator.resamples)
    ]
    bias = float(np.mean(means))
    return bias, math.hypot(float(np.std(means, ddof=1)), bias)


def _clipped(value: float) -> float:
    return min(1.0, max(0.0, value))


def _accuracy_band(
    right: np.ndarray, confidence: float, calibration_sd: float = 0.0, centre: float | None = None
) -> tuple[float, float]:
    """Normal band around ``centre`` (the bias-corrected estimate; else the mean of ``right``)
    for the mean of independent Bernoulli(right_i) outcomes, widened by the calibration's own
    standard deviation (the two variances add)."""
    z = statistics.NormalDist().inv_cdf(0.5 + confidence / 2)
    mean = float(right.mean()) if centre is None else centre
    labels_sd = math.sqrt(float(np.sum(right * (1.0 - right)))) / len(right)
    spread = z * math.hypot(labels_sd, calibration_sd)
    return max(0.0, mean - spread), min(1.0, mean + spread)


def _expected_auc(score: np.ndarray, p: np.ndarray) -> float:
    """E[pairs ranked right] / E[pairs] over distinct rows i, j with i positive, j negative:
    sum p_i (1 - p_j) [s_i > s_j] (a tie counts half), divided by sum p_i (1 - p_j), i != j.
    Rows are ranked by the raw score, as the realised ROC AUC ranks them."""
    values, group = np.unique(score, return_inverse=True)
    positives = np.bincount(group, weights=p, minlength=len(values))
    negatives = np.bincount(group, weights=1.0 - p, minlength=len(values))
    own = np.bincount(group, weights=p * (1.0 - p), minlength=len(values))
    below = np.cumsum(negatives) - negatives
    pairs = float(p.sum() * (1.0 - p).sum() - own.sum())
    if pairs <= 0:
        return math.nan
    ranked = float(np.sum(positives * below) + 0.5 * np.sum(positives * negatives - own))
    return min(1.0, max(0.0, ranked / pairs))


def _bootstrap_bands(
    score: np.ndarray,
    p: np.ndarray,
    positive: np.ndarray,
    metrics: dict[str, float],
    confidence: float,
    draws: int,
    seed: int,
    calibrator: Calibrator,
) -> dict[str, tuple[float, float]]:
    """Percentile bands of the realised precision, recall, F1 and ROC AUC over label sets drawn
    from the calibrated probabilities (draw d from bootstrap refit d of the calibrator, when it
    kept any); each band is widened to hold its point estimate, which a few hundred draws can
    miss when a metric's distribution is lumpy (tiny windows)."""
    from scipy.stats import rankdata

    n = len(p)
    ranks = rankdata(score)  # mid-ranks: ties count half, as in ROC AUC
    columns = np.column_stack([positive, ~positive, ranks]).astype(float)
    totals = np.zeros((draws, 3))  # per draw: true positives, false negatives, rank sum
    rng = np.random.default_rng(seed)
    refits = calibrator.resamples
    step = max(1, DRAW_CELLS // (draws + refits))
    for start in range(0, n, step):
        block = slice(start, start + step)
        chance: np.ndarray = p[block]
        if refits:
            shifted = np.stack(
                [calibrator.resampled(score[block], p[block], b) for b in range(refits)]
            )
            chance = shifted[np.arange(draws) % refits]
        labels = rng.random((draws, min(step, n - start))) < chance
        totals += labels.astype(float) @ columns[block]
    tp, fn, rank_sum = totals.T
    predicted_positive = float(positive.sum())
    actual_positive = tp + fn
    with np.errstate(divide="ignore", invalid="ignore"):
        realised = {
            "precision": _ratios(tp, np.full(draws, predicted_positive)),
            "recall": _ratios(tp, actual_positive),
            "f1": _ratios(2 * tp, tp + predicted_positive + fn),
            "roc_auc": (rank_sum - actual_positive * (actual_positive + 1) / 2)
            / (actual_positive * (n - actual_positive)),
        }
    tail = (1.0 - confidence) / 2
    bands = {}
    for name, values in realised.items():
        values = values[np.isfinite(values)]
        point = metrics[name]
        if not math.isfinite(point):
            bands[name] = (math.nan, math.nan)
        elif len(values) == 0:  # no draw had both classes: the draws cannot tell
            bands[name] = (0.0, 1.0)
        else:
            low, high = np.quantile(values, [tail, 1.0 - tail])
            bands[name] = (min(float(low), point), max(float(high), point))
    return bands


def _ratio(numerator: float, denominator: float) -> float:
    """A ratio of counts, 0 when the denominator is (scikit-learn's ``zero_division=0``)."""
    return numerator / denominator if denominator > 0 else 0.0


def _ratios(numerator: np.ndarray, denominator: np.ndarray) -> np.ndarray:
    return np.where(denominator > 0, numerator / np.where(denominator > 0, denominator, 1), 0.0)


# -- inputs -------------------------------------------------------------------------------------
def _classes(classes: Sequence[Any]) -> tuple[Any, ...]:
    plain = tuple(c.item() if hasattr(c, "item") else c for c in classes)
    if len(plain) < 2 or len(set(plain)) != len(plain):
        raise InvalidInput("classes", f"need two or more distinct classes, got {list(plain)}")
    return plain


def _task(classes: Sequence[Any]) -> Task:
    return "binary" if len(classes) == 2 else "multiclass"


def _scores(score: Sequence[float] | np.ndarray) -> np.ndarray:
    try:
        scores = np.asarray(score, dtype=float)
    except (TypeError, ValueError) as exc:
        raise InvalidInput("score", f"must be numbers: {exc}") from exc
    if scores.ndim != 1:
        raise InvalidInput("score", f"must be one score per row, got shape {scores.shape}")
    outside = (scores < 0) | (scores > 1)
    if outside.any():
        raise InvalidInput(
            "score", f"must be probabilities in [0, 1]; {int(outside.sum())} are not"
        )
    return scores


def _weights(sample_weight: Sequence[float] | np.ndarray | None, rows: int) -> np.ndarray:
    if sample_weight is None:
        return np.ones(rows)
    try:
        weight = np.asarray(sample_weight, dtype=float)
    except (TypeError, ValueError) as exc:
        raise InvalidInput("sample_weight", f"must be numbers: {exc}") from exc
    if weight.shape != (rows,):
        raise InvalidInput(
            "sample_weight", f"must hold one weight per row ({rows}): {weight.shape}"
        )
    if not np.isfinite(weight).all() or (weight < 0).any():
        raise InvalidInput("sample_weight", "must be finite and not negative")
    return weight


def _missing(values: np.ndarray) -> np.ndarray:
    """None or NaN in an object array: a label that has not arrived."""
    return np.fromiter(
        (v is None or (isinstance(v, float) and math.isnan(v)) for v in values),
        dtype=bool,
        count=len(values),
    )


def _check_members(name: str, values: np.ndarray, classes: tuple[Any, ...]) -> None:
    known = set(classes)
    unknown = {v.item() if hasattr(v, "item") else v for v in values} - known
    if unknown:
        shown = sorted(map(repr, unknown))[:5]
        raise InvalidInput(name, f"holds values that are not among the classes: {shown}")


def _finite(value: float) -> float | None:
    return value if math.isfinite(value) else None
