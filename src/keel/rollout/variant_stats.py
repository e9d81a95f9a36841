"""One version's measurements on a step's rows (``VariantStats``, ``stats_of``).

Its error rate among the rows the model was asked about, its latency p99, and for classifiers its
accuracy from delayed labels and its CBPE estimates (``keel.monitoring.estimation``); and, on a
sticky deployment whose rows carry entity keys, the unit they count in (``keel.rollout.units``)
with the design effect of each proportion, by which ``keel.rollout.analysis`` widens its
variance. ``keel.rollout.analysis`` re-exports both names.

Four customers with ten requests each, two of whom always get an error: 40 rows, but 4 units,
and the error rate's variance 13 times the rows' own.

>>> import pandas as pd
>>> rows = pd.DataFrame({"status": ["ok", "error"] * 20, "entity_key": list("abcd") * 10})
>>> measured = stats_of(rows, sticky=True)
>>> measured.error_rate, measured.unit, measured.units, round(measured.error_effect, 1)
(0.5, 'keys', 4, 13.0)
>>> stats_of(rows, sticky=False).unit, stats_of(rows, sticky=False).error_effect
('rows', 1.0)
"""

from __future__ import annotations

import math
import statistics
from dataclasses import asdict, dataclass, field, replace
from typing import TYPE_CHECKING, Any

import numpy as np

from keel.errors import InvalidInput
from keel.rollout.units import UNANSWERED, accuracy_outcomes, by_unit, error_outcomes, unit_count

if TYPE_CHECKING:
    import pandas as pd

    from keel.monitoring.references import Reference

__all__ = ["UNANSWERED", "VariantStats", "stats_of"]


@dataclass(frozen=True)
class VariantStats:
    """One version's measurements on a step's rows."""

    rows: int
    errors: int
    error_rate: float | None
    latency_p99_ms: float | None
    labelled: int = 0
    correct: int = 0
    accuracy: float | None = None  # from labels
    estimated_accuracy: float | None = None  # CBPE, from scores
    estimated_accuracy_se: float | None = None
    rejected: int = 0  # rows the input policy rejected: never scored
    #: every CBPE estimate (accuracy, precision, recall, f1, roc_auc) and its standard error
    estimated: dict[str, float] = field(default_factory=dict)
    estimated_se: dict[str, float] = field(default_factory=dict)
    estimated_rows: int = 0
    #: what its rows were counted in (``keel.rollout.units``), how many units, and by how much
    #: that widens the variance of its error rate, accuracy and estimated accuracy
    unit: str = "rows"
    units: int = 0
    error_effect: float = 1.0
    accuracy_effect: float = 1.0
    estimated_effect: float = 1.0

    @property
    def scored(self) -> int:
        """The rows the model was asked about (the error rate's denominator)."""
        return self.rows - self.rejected

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def stats_of(
    rows: pd.DataFrame,
    *,
    labels: pd.DataFrame | None = None,
    reference: Reference | None = None,
    min_labelled: int = 100,
    sticky: bool = False,
) -> VariantStats:
    """Measure one version's rows; accuracy needs a classifier's ``reference`` (its classes,
    and its calibrator for the estimate). ``sticky``: rows with an entity key count by key."""
    count = len(rows)
    errors = int((rows["status"] == "error").sum()) if "status" in rows else 0
    rejected = int((rows["status"] == "rejected").sum()) if "status" in rows else 0
    scored = count - rejected
    latency = floats_of(rows, "latency_ms")
    finite = latency[np.isfinite(latency)]
    p99 = float(np.percentile(finite, 99)) if finite.size else None
    unit, units = unit_count(rows, sticky=sticky)
    keyed = unit != "rows"  # one row per unit: no design effect to estimate
    out = VariantStats(
        count,
        errors,
        errors / scored if scored else None,
        p99,
        rejected=rejected,
        unit=unit,
        units=units,
        error_effect=error_outcomes(rows, sticky=sticky).effect if keyed else 1.0,
    )
    if reference is None or reference.task == "regression" or count == 0:
        return out
    answered = rows[~rows["status"].isin(UNANSWERED)] if "status" in rows else rows
    right = None if labels is None else accuracy_outcomes(rows, labels, reference, sticky=sticky)
    labelled = 0 if right is None else round(float(right.rows.sum()))
    correct = 0 if right is None else round(float(right.successes.sum()))
    estimated, spread, rows_estimated = _estimate(answered, reference)
    return replace(
        out,
        labelled=labelled,
        correct=correct,
        accuracy=correct / labelled if labelled and labelled >= min_labelled else None,
        accuracy_effect=right.effect if keyed and right is not None and labelled else 1.0,
        estimated_accuracy=estimated.get("accuracy"),
        estimated_accuracy_se=spread.get("accuracy"),
        estimated=estimated,
        estimated_se=spread,
        estimated_rows=rows_estimated,
        estimated_effect=(
            _estimated_effect(answered, reference, sticky)
            if keyed and "accuracy" in estimated
            else 1.0
        ),
    )


def floats_of(rows: pd.DataFrame, column: str) -> np.ndarray:
    """A column as float64 numbers, NaN where a value is missing or not a number."""
    if column not in rows or len(rows) == 0:
        return np.array([], dtype="float64")
    import pandas as pd

    return pd.to_numeric(rows[column], errors="coerce").to_numpy(dtype="float64", na_value=np.nan)


def _estimate(
    rows: pd.DataFrame, reference: Reference
) -> tuple[dict[str, float], dict[str, float], int]:
    """Every CBPE estimate of ``rows``, each with its standard error (half its 95% band over
    1.96), and the rows estimated; empty without scores or a calibrator."""
    from keel.monitoring.estimation import estimate_performance

    scores = floats_of(rows, "score")
    if rows.empty or reference.calibrator is None or not np.isfinite(scores).any():
        return {}, {}, 0
    try:
        found = estimate_performance(
            rows["prediction"].to_numpy(), scores, reference.classes, reference.calibrator
        )
    except InvalidInput:  # predictions that are not the reference's classes: no estimate
        return {}, {}, 0
    z = statistics.NormalDist().inv_cdf(0.5 + found.confidence / 2)
    values, spread = {}, {}
    for name, value in found.metrics.items():
        low, high = found.bands[name]
        if math.isfinite(value) and math.isfinite(low) and math.isfinite(high):
            values[name], spread[name] = float(value), (high - low) / (2 * z)
    return values, spread, found.rows


def _estimated_effect(rows: pd.DataFrame, reference: Reference, sticky: bool) -> float:
    """The design effect of the estimated accuracy: each scored row's calibrated chance of
    being right (the estimate is their mean), summed per unit."""
    calibrator = reference.calibrator
    scores = floats_of(rows, "score")
    known = np.isfinite(scores)
    if calibrator is None or not known.any():
        return 1.0
    chance = np.zeros(len(rows))
    chance[known] = calibrator.apply(np.clip(scores[known], 0.0, 1.0))
    if calibrator.task == "binary":  # the score is P(classes[1]): right as often as predicted
        positive = rows["prediction"].to_numpy(dtype=object) == calibrator.classes[1]
        chance = np.where(positive, chance, 1.0 - chance)
    return by_unit(rows, chance, sticky=sticky, keep=known).effect
