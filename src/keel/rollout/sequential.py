"""An always-valid sequential test for A/B tests: look at the results as often as you like.

A fixed-size z-test promises a 5% false-positive rate only if it is looked at once, at the
planned size. Looking every minute and stopping at the first p < 0.05 finds "winners" in a
third of tests where nothing differs. The mixture sequential probability ratio test (mSPRT,
Johari, Pekelis and Walsh, "Always valid inference", 2017) keeps its promise at every look.
It weighs the evidence for every possible effect θ with a normal mixing distribution N(0, τ²)
against "no effect": with the estimated difference θ̂ (candidate minus stable) and its variance
V (which shrinks as rows arrive)

    Λ = sqrt(V / (V + τ²)) · exp(τ² θ̂² / (2 V (V + τ²)))

Under no difference Λ is a (approximately, by the central limit theorem) nonnegative
martingale with mean 1, so by Ville's inequality it ever reaches 1/alpha with probability at most
alpha, however often it is looked at. Hence the always-valid p-value min(1, 1/Λ) and the confidence
sequence {θ₀ : Λ(θ₀) < 1/alpha}, an interval around θ̂ that covers the true effect at every look at
once with probability 1 - alpha. The price is width: it is wider than a fixed-n interval.

The test stops when the sequence excludes zero (a winner: the candidate is better or worse),
when it lies inside (-minimum_effect, +minimum_effect) (futility: any effect is too small to
matter), or when the test reaches its maximum size. ``τ`` defaults to the minimum effect, the
scale of effect the test is tuned to find; the plug-in variance needs some rows per arm
(``min_rows``) before the normal approximation can be trusted.

Its unit must match the split's: on a sticky A/B test a customer's twenty requests all went to
one variant and their outcomes are alike, so they are not twenty independent observations.
``compare_proportions_by_unit`` keeps the rows' proportion as the estimate (the error rate or
accuracy per request, as reported everywhere) and widens each arm's variance by its design
effect, the cluster-robust (CR1) variance over the rows' own, never below 1; it waits for
``min_units`` units per arm, as a cluster-robust variance needs some dozens of clusters.

>>> result = compare_proportions((1200, 3000), (1440, 3000), alpha=0.05, minimum_effect=0.01)
>>> result.decision, round(result.estimate, 3)
('candidate_better', 0.08)
>>> compare_proportions((1200, 3000), (1230, 3000), alpha=0.05, minimum_effect=0.01).decision
'continue'
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal, TypedDict, Unpack

import numpy as np

from keel.errors import InvalidInput

if TYPE_CHECKING:
    from numpy.typing import ArrayLike

__all__ = [
    "Decision",
    "SequentialResult",
    "compare_means",
    "compare_proportions",
    "compare_proportions_by_unit",
    "confidence_sequence",
    "decide",
    "design_effect",
    "log_mixture_ratio",
]

Decision = Literal["continue", "candidate_better", "candidate_worse", "futility", "max_size"]
_TINY_VARIANCE = 1e-12
#: units per arm before a cluster-robust variance is trusted
MIN_UNITS = 30


class ComparisonOptions(TypedDict, total=False):
    """The keywords of ``decide`` a comparison passes on as they were given."""

    alpha: float
    minimum_effect: float
    max_rows: int | None
    tau: float | None
    higher_is_better: bool
    min_rows: int
    min_units: int


@dataclass(frozen=True)
class SequentialResult:
    """One look at a running test."""

    decision: Decision
    estimate: float  # candidate minus stable, in the metric's own direction
    interval: tuple[float, float]  # the confidence sequence at this look
    p_value: float  # always valid
    log_likelihood_ratio: float
    rows: tuple[int, int]  # stable, candidate
    alpha: float
    minimum_effect: float
    tau: float
    higher_is_better: bool
    unit: str = "rows"  # what the variance treats as independent: keys or rows
    units: tuple[int, int] | None = None  # stable, candidate; None: one per row
    design_effects: tuple[float, float] = (1.0, 1.0)

    @property
    def stopped(self) -> bool:
        return self.decision != "continue"

    @property
    def reason(self) -> str:
        """One sentence for the audit trail."""
        low, high = self.interval
        where = (
            f"difference {self.estimate:+.4f}, {1 - self.alpha:.0%} confidence sequence "
            f"[{low:+.4f}, {high:+.4f}], always-valid p = {self.p_value:.3g}"
        )
        said = {
            "continue": "no decision yet",
            "candidate_better": "the candidate is better",
            "candidate_worse": "the candidate is worse",
            "futility": f"any difference is smaller than {self.minimum_effect:g} (futility)",
            "max_size": f"the test reached its maximum size ({sum(self.rows):,} rows)",
        }[self.decision]
        if self.units is not None and self.unit != "rows":
            s, c = self.design_effects
            where += (
                f"; by {self.unit}: {self.units[0]:,} and {self.units[1]:,}, "
                f"variance x{s:.2g} and x{c:.2g} for requests of one key"
            )
        return f"{said}: {where}"

    def to_dict(self) -> dict[str, Any]:
        return {
            "decision": self.decision,
            "estimate": self.estimate,
            "interval": list(self.interval),
            "p_value": self.p_value,
            "log_likelihood_ratio": self.log_likelihood_ratio,
            "rows": list(self.rows),
            "alpha": self.alpha,
            "minimum_effect": self.minimum_effect,
            "tau": self.tau,
            "higher_is_better": self.higher_is_better,
            "unit": self.unit,
            "units": None if self.units is None else list(self.units),
            "design_effects": list(self.design_effects),
        }


def log_mixture_ratio(estimate: float, variance: float, tau: float, null: float = 0.0) -> float:
    """log Λ of the normal-mixture SPRT for H0: θ = ``null``."""
    v, t2 = max(variance, _TINY_VARIANCE), tau * tau
    return 0.5 * math.log(v / (v + t2)) + t2 * (estimate - null) ** 2 / (2.0 * v * (v + t2))


def confidence_sequence(
    estimate: float, variance: float, tau: float, alpha: float
) -> tuple[float, float]:
    """The effects θ₀ the test cannot reject at level ``alpha`` at this look."""
    v, t2 = max(variance, _TINY_VARIANCE), tau * tau
    half = math.sqrt(
        2.0 * v * (v + t2) / t2 * (math.log(1.0 / alpha) + 0.5 * math.log((v + t2) / v))
    )
    return estimate - half, estimate + half


def decide(
    estimate: float,
    variance: float,
    rows: tuple[int, int],
    *,
    alpha: float = 0.05,
    minimum_effect: float = 0.01,
    max_rows: int | None = None,
    tau: float | None = None,
    higher_is_better: bool = True,
    min_rows: int = 100,
    unit: str = "rows",
    units: tuple[int, int] | None = None,
    design_effects: tuple[float, float] = (1.0, 1.0),
    min_units: int = MIN_UNITS,
) -> SequentialResult:
    """Look at a test whose estimated difference is ``estimate`` with variance ``variance``;
    ``units`` (with ``min_units``) when its rows come in groups such as a key's requests."""
    if not 0.0 < alpha < 1.0:
        raise InvalidInput("alpha", f"must lie in (0, 1), got {alpha!r}")
    if not minimum_effect > 0:
        raise InvalidInput("minimum_effect", f"must be positive, got {minimum_effect!r}")
    scale = float(tau if tau is not None else minimum_effect)
    if not scale > 0:
        raise InvalidInput("tau", f"must be positive, got {tau!r}")
    if not (math.isfinite(estimate) and math.isfinite(variance)) or variance < 0:
        raise InvalidInput("estimate", "the difference and its variance must be finite")
    log_ratio = log_mixture_ratio(estimate, variance, scale)
    p_value = min(1.0, math.exp(-log_ratio)) if log_ratio > -700 else 1.0
    low, high = confidence_sequence(estimate, variance, scale, alpha)
    decision: Decision = "continue"
    enough_units = units is None or unit == "rows" or min(units) >= min_units
    if min(rows) >= min_rows and enough_units:
        if log_ratio >= math.log(1.0 / alpha):
            better = (estimate > 0) == higher_is_better
            decision = "candidate_better" if better else "candidate_worse"
        elif -minimum_effect < low and high < minimum_effect:
            decision = "futility"
    if decision == "continue" and max_rows is not None and sum(rows) >= max_rows:
        decision = "max_size"
    return SequentialResult(
        decision=decision,
        estimate=float(estimate),
        interval=(low, high),
        p_value=p_value,
        log_likelihood_ratio=log_ratio,
        rows=(int(rows[0]), int(rows[1])),
        alpha=alpha,
        minimum_effect=minimum_effect,
        tau=scale,
        higher_is_better=higher_is_better,
        unit=unit,
        units=None if units is None else (int(units[0]), int(units[1])),
        design_effects=(float(design_effects[0]), float(design_effects[1])),
    )


def compare_proportions(
    stable: tuple[int, int], candidate: tuple[int, int], **options: Unpack[ComparisonOptions]
) -> SequentialResult:
    """Test the difference of two proportions given as (successes, rows) per arm.

    The variance uses smoothed rates ((s + ½) / (n + 1)), so an arm with no successes yet
    does not claim perfect certainty. ``options`` are those of ``decide``.
    """
    for name, (hits, total) in (("stable", stable), ("candidate", candidate)):
        if total < 0 or not 0 <= hits <= max(total, 0):
            raise InvalidInput(name, f"needs 0 <= successes <= rows, got {hits} of {total}")
    (s_hits, s_rows), (c_hits, c_rows) = stable, candidate
    if s_rows == 0 or c_rows == 0:
        return decide(0.0, 1.0, (s_rows, c_rows), **options)
    estimate = c_hits / c_rows - s_hits / s_rows
    variance = sum(
        p * (1 - p) / n for p, n in (((h + 0.5) / (n + 1), n) for h, n in (stable, candidate))
    )
    return decide(estimate, variance, (s_rows, c_rows), **options)


def design_effect(successes: ArrayLike, rows: ArrayLike) -> float:
    """How much grouping a proportion's rows into units (``successes`` and ``rows`` per unit)
    widens its variance: the CR1 cluster-robust variance of the proportion over the rows' own
    (i.i.d.) variance. At least 1 (never bolder than counting rows); 1 when there is nothing
    to estimate it from (fewer than two units, or a proportion of 0 or 1).

    >>> design_effect([1, 0, 1, 0], [1, 1, 1, 1])
    1.0
    >>> round(design_effect([10, 0] * 50, [10] * 100), 1)  # a key's 10 answers all alike
    10.1
    """
    s = np.asarray(successes, dtype="float64")
    n = np.asarray(rows, dtype="float64")
    total, groups = float(n.sum()), len(n)
    if groups < 2 or total < 2:
        return 1.0
    p = float(s.sum()) / total
    if not 0.0 < p < 1.0:
        return 1.0
    robust = groups / (groups - 1) * float(np.sum((s - p * n) ** 2)) / total**2
    rowwise = p * (1 - p) / (total - 1)
    return max(1.0, robust / rowwise)


def compare_proportions_by_unit(
    stable: tuple[ArrayLike, ArrayLike],
    candidate: tuple[ArrayLike, ArrayLike],
    *,
    unit: str = "keys",
    **options: Unpack[ComparisonOptions],
) -> SequentialResult:
    """Test the difference of two proportions whose rows come in units (a key's requests):
    each arm as (successes per unit, rows per unit). The estimate is the rows' proportion, as
    in ``compare_proportions``; each arm's variance is multiplied by its ``design_effect``.
    With one row per unit this is ``compare_proportions``. ``options`` are those of ``decide``.
    """
    arms = []
    for name, (hits, total) in (("stable", stable), ("candidate", candidate)):
        s = np.asarray(hits, dtype="float64")
        n = np.asarray(total, dtype="float64")
        if s.shape != n.shape or s.ndim != 1:
            raise InvalidInput(name, "needs successes and rows per unit, two arrays of one length")
        if np.any(n < 1) or np.any(s < 0) or np.any(s > n):
            raise InvalidInput(name, "needs 0 <= successes <= rows, at least one row per unit")
        arms.append((s, n))
    counts = [(round(float(s.sum())), round(float(n.sum()))) for s, n in arms]
    effects = (design_effect(*arms[0]), design_effect(*arms[1]))
    units = (len(arms[0][1]), len(arms[1][1]))
    (s_hits, s_rows), (c_hits, c_rows) = counts
    if s_rows == 0 or c_rows == 0:
        return decide(0.0, 1.0, (s_rows, c_rows), unit=unit, units=units, **options)
    estimate = c_hits / c_rows - s_hits / s_rows
    variance = sum(
        effect * p * (1 - p) / n
        for effect, (p, n) in zip(
            effects, (((h + 0.5) / (n + 1), n) for h, n in counts), strict=True
        )
    )
    return decide(
        estimate,
        variance,
        (s_rows, c_rows),
        unit=unit,
        units=units,
        design_effects=effects,
        **options,
    )


def compare_means(
    stable: ArrayLike, candidate: ArrayLike, **options: Unpack[ComparisonOptions]
) -> SequentialResult:
    """Test the difference of two means from the arms' values (NaNs left out)."""
    a = np.asarray(stable, dtype="float64")
    b = np.asarray(candidate, dtype="float64")
    a, b = a[~np.isnan(a)], b[~np.isnan(b)]
    if len(a) < 2 or len(b) < 2:
        return decide(0.0, 1.0, (len(a), len(b)), **options)
    estimate = float(b.mean() - a.mean())
    variance = float(a.var(ddof=1) / len(a) + b.var(ddof=1) / len(b))
    return decide(estimate, variance, (len(a), len(b)), **options)
