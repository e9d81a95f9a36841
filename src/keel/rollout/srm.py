"""Sample ratio mismatch (SRM): is the traffic split what the deployment configured?

If an A/B test meant to send 50% of requests to the candidate logs 53% of them there, something
between the router and the log is broken (a variant that crashes before logging, bots that
stick to one variant, a cache in front of one of them), and the comparison of the two groups
can no longer be trusted: whatever differs between the groups may be why, not the model. The
check is a chi-square goodness-of-fit test of the observed counts against the configured
shares; it flags at p < 0.001 by default, because it runs on every look at a test and must
almost never stop a healthy one.

>>> check({"stable": 5_000, "candidate": 5_000}, {"stable": 50, "candidate": 50}).mismatch
False
>>> skewed = check({"stable": 5_300, "candidate": 4_700}, {"stable": 50, "candidate": 50})
>>> skewed.mismatch, f"{skewed.p_value:.1e}"
(True, '2.0e-09')
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from keel.errors import InvalidInput

__all__ = ["SampleRatio", "check"]

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

    @property
    def reason(self) -> str:
        """One sentence for the audit trail."""
        shown = ", ".join(
            f"{name} {self.observed_shares[name]:.1%} (expected {self.expected_shares[name]:.1%})"
            for name in self.counts
        )
        verdict = "sample ratio mismatch" if self.mismatch else "split as configured"
        return f"{verdict}: {shown}; chi-square p = {self.p_value:.2g}"

    def to_dict(self) -> dict[str, Any]:
        return {
            "counts": self.counts,
            "expected_shares": self.expected_shares,
            "observed_shares": self.observed_shares,
            "statistic": self.statistic,
            "p_value": self.p_value,
            "alpha": self.alpha,
            "mismatch": self.mismatch,
        }


def check(
    counts: Mapping[str, int], shares: Mapping[str, float], *, alpha: float = DEFAULT_ALPHA
) -> SampleRatio:
    """Chi-square test of ``counts`` per variant against ``shares`` (any positive weights,
    e.g. percentages); with no rows yet there is nothing to flag."""
    from scipy import stats

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
    else:
        expected = [total * expected_shares[n] for n in names]
        result = stats.chisquare(observed, expected)
        statistic, p_value = float(result.statistic), float(result.pvalue)
    return SampleRatio(
        counts=dict(zip(names, observed, strict=True)),
        expected_shares=expected_shares,
        observed_shares=observed_shares,
        statistic=statistic,
        p_value=p_value,
        alpha=alpha,
        mismatch=p_value < alpha,
    )
