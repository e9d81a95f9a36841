"""Sample ratio mismatch (SRM): is the traffic split what the deployment configured?

If an A/B test meant to send 50% of requests to the candidate logs 53% of them there, something
between the router and the log is broken (a variant that crashes before logging, bots that
stick to one variant, a cache in front of one of them), and the comparison of the two groups
can no longer be trusted: whatever differs between the groups may be why, not the model. The
check is a chi-square goodness-of-fit test of the observed counts against the configured
shares; it flags at p < 0.001 by default, because it runs on every look at a test and must
almost never stop a healthy one.

It counts what was randomised (``keel.rollout.units``): distinct entity keys on a sticky
deployment whose requests carry keys, rows otherwise. Counting a sticky test's rows would flag
a healthy 50/50 split of 400 keys with 20 requests each about half the time; ``check_split``
counts from the rows and says which unit it used (``unit``) beside the rows.

>>> check({"stable": 5_000, "candidate": 5_000}, {"stable": 50, "candidate": 50}).mismatch
False
>>> skewed = check({"stable": 5_300, "candidate": 4_700}, {"stable": 50, "candidate": 50})
>>> skewed.mismatch, f"{skewed.p_value:.1e}"
(True, '2.0e-09')
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from keel.errors import InvalidInput
from keel.rollout.units import Unit, count_units

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["SampleRatio", "check", "check_split"]

DEFAULT_ALPHA = 0.001


@dataclass(frozen=True)
class SampleRatio:
    """Observed counts against the configured shares, and whether they mismatch."""

    counts: dict[str, int]
    expected_shares: dict[str, float]
    observed_shares: dict[str, float]
    statistic: float
    p_value: float
    alpha: float
    mismatch: bool
    unit: Unit = "rows"  # what ``counts`` counts
    rows: dict[str, int] = field(default_factory=dict)  # rows per variant, whatever the unit
    mixed_keys: int = 0  # keys seen on both variants, counted where first seen

    @property
    def reason(self) -> str:
        """One sentence for the audit trail, naming the unit and the counts."""
        shown = ", ".join(
            f"{name} {self.counts[name]:,} {self._unit_word} {self.observed_shares[name]:.1%} "
            f"(expected {self.expected_shares[name]:.1%})"
            for name in self.counts
        )
        verdict = "sample ratio mismatch" if self.mismatch else "split as configured"
        extra = ""
        if self.unit != "rows" and self.rows:
            extra = " (rows: " + ", ".join(f"{n} {r:,}" for n, r in self.rows.items()) + ")"
        if self.mixed_keys:
            extra += f"; keys seen on both variants: {self.mixed_keys:,} (counted where first seen)"
        return f"{verdict} by {self.unit}: {shown}; chi-square p = {self.p_value:.2g}{extra}"

    @property
    def _unit_word(self) -> str:
        return {"keys": "keys", "rows": "rows"}.get(self.unit, "units")

    def to_dict(self) -> dict[str, Any]:
        return {
            "counts": self.counts,
            "expected_shares": self.expected_shares,
            "observed_shares": self.observed_shares,
            "statistic": self.statistic,
            "p_value": self.p_value,
            "alpha": self.alpha,
            "mismatch": self.mismatch,
            "unit": self.unit,
            "rows": self.rows,
            "mixed_keys": self.mixed_keys,
            "summary": self.reason,
        }


def check_split(
    stable: pd.DataFrame,
    candidate: pd.DataFrame,
    shares: Mapping[str, float],
    *,
    sticky: bool,
    alpha: float = DEFAULT_ALPHA,
) -> SampleRatio:
    """Check the split of an A/B test's rows (``shares`` keyed ``stable``, ``candidate``) in
    the unit it was randomised by: keys when ``sticky`` and the rows carry them, else rows."""
    counted = count_units(stable, candidate, sticky=sticky)
    return check(
        counted.counts,
        shares,
        alpha=alpha,
        unit=counted.unit,
        rows=counted.rows,
        mixed_keys=counted.mixed_keys,
    )


def check(
    counts: Mapping[str, int],
    shares: Mapping[str, float],
    *,
    alpha: float = DEFAULT_ALPHA,
    unit: Unit = "rows",
    rows: Mapping[str, int] | None = None,
    mixed_keys: int = 0,
) -> SampleRatio:
    """Chi-square test of ``counts`` (of ``unit``) per variant against ``shares`` (any positive
    weights, e.g. percentages); with nothing counted yet there is nothing to flag."""
    from scipy import special

    if set(counts) != set(shares) or len(counts) < 2:
        raise InvalidInput("counts", "needs a count for each of at least two variants' shares")
    if not 0.0 < alpha < 1.0:
        raise InvalidInput("alpha", f"must lie in (0, 1), got {alpha!r}")
    names = list(counts)
    observed = [int(counts[n]) for n in names]
    weights = [float(shares[n]) for n in names]
    if any(c < 0 for c in observed):
        raise InvalidInput("counts", "must not be negative")
    if any(not math.isfinite(w) or w <= 0 for w in weights):
        raise InvalidInput("shares", "must be positive numbers")
    total, weight = sum(observed), sum(weights)
    expected_shares = {n: w / weight for n, w in zip(names, weights, strict=True)}
    observed_shares = {
        n: (c / total if total else 0.0) for n, c in zip(names, observed, strict=True)
    }
    if total == 0:
        statistic, p_value = 0.0, 1.0
    else:  # the chi-square goodness-of-fit test (scipy.stats.chisquare), without its overhead
        expected = [total * expected_shares[n] for n in names]
        statistic = sum((o - e) ** 2 / e for o, e in zip(observed, expected, strict=True))
        p_value = float(special.chdtrc(len(names) - 1, statistic))
    return SampleRatio(
        counts=dict(zip(names, observed, strict=True)),
        expected_shares=expected_shares,
        observed_shares=observed_shares,
        statistic=statistic,
        p_value=p_value,
        alpha=alpha,
        mismatch=p_value < alpha,
        unit=unit,
        rows=dict(rows) if rows is not None else dict(zip(names, observed, strict=True)),
        mixed_keys=int(mixed_keys),
    )
