"""Wasserstein-1 (earth mover's) distance between two one-dimensional distributions.

``W1 = integral |F_ref(x) - F_cur(x)| dx``: the average distance each unit of probability mass has
to travel to turn one distribution into the other, in the feature's own units. Keel reports it
divided by the reference's standard deviation (``wasserstein_std``, "in reference standard
deviations") so one threshold fits every feature: a mean shift of ``k`` standard deviations gives
exactly ``k``.

- :func:`wasserstein` takes raw values and equals ``scipy.stats.wasserstein_distance``.
- :func:`wasserstein_weighted` takes weights on one sorted common support; a binned reference puts
  each bin's mass at its centre (the under- and overflow bins at their stored means), which moves
  every value by at most half a bin width, so on the inner bins the result is within one bin
  width ``h`` of the raw distance (plus, for values beyond the grid, the spread of the tail around
  its mean times the tail's share).

>>> import numpy as np
>>> wasserstein(np.array([0.0, 1.0, 3.0]), np.array([5.0, 6.0, 8.0]))
5.0
>>> wasserstein_weighted(np.array([0.0, 1.0, 2.0]), np.array([1, 0, 0]), np.array([0, 0, 1]))
2.0
"""

from __future__ import annotations

import numpy as np

__all__ = ["wasserstein", "wasserstein_weighted"]


def wasserstein(reference: np.ndarray, current: np.ndarray) -> float:
    """W1 between raw finite samples; SciPy's ``wasserstein_distance`` (its CDF-gap form)."""
    u = np.sort(np.asarray(reference, dtype=np.float64))
    v = np.sort(np.asarray(current, dtype=np.float64))
    both = np.concatenate([u, v])
    both.sort(kind="mergesort")
    deltas = np.diff(both)
    u_cdf = u.searchsorted(both[:-1], "right") / u.size
    v_cdf = v.searchsorted(both[:-1], "right") / v.size
    return float(np.dot(np.abs(u_cdf - v_cdf), deltas))


def wasserstein_weighted(
    positions: np.ndarray, reference_weights: np.ndarray, current_weights: np.ndarray
) -> float:
    """W1 between two weightings of the same ascending ``positions`` (weights need not sum to
    one; a zero weight is allowed). Equals ``wasserstein_distance(positions, positions,
    reference_weights, current_weights)``."""
    x = np.asarray(positions, dtype=np.float64)
    ref = np.cumsum(np.asarray(reference_weights, dtype=np.float64))
    cur = np.cumsum(np.asarray(current_weights, dtype=np.float64))
    gaps = np.abs(ref[:-1] / ref[-1] - cur[:-1] / cur[-1])
    return float(np.dot(gaps, np.diff(x)))
