"""Benjamini-Hochberg control of the false discovery rate across features.

Testing 25 features at ``alpha`` each would raise a false alarm in most windows without drift.
Benjamini-Hochberg adjusts the sorted p-values ``p_(1) <= ... <= p_(k)`` to
``min_{j >= i} p_(j) * k / j`` (capped at 1); calling "adjusted p < alpha" drifted keeps the
expected share of false alarms among the alarms at ``alpha`` (for independent or positively
dependent tests). Adjusted values are never below the raw ones and keep their order. The work is
``scipy.stats.false_discovery_control(p, method="bh")``.

>>> adjusted = benjamini_hochberg([0.01, 0.04, 0.03, 0.5])
>>> [round(float(p), 3) for p in adjusted]
[0.04, 0.053, 0.053, 0.5]
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

__all__ = ["benjamini_hochberg"]


def benjamini_hochberg(p_values: Sequence[float] | np.ndarray) -> np.ndarray:
    """BH-adjusted p-values, in the input's order (an empty input gives an empty array)."""
    from scipy import stats

    p = np.asarray(p_values, dtype=np.float64)
    if p.size == 0:
        return p
    return np.asarray(stats.false_discovery_control(p, method="bh"), dtype=np.float64)
