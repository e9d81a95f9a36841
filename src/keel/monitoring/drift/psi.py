"""Population Stability Index: a one-number summary of how far a distribution moved.

``PSI = sum_i (a_i - e_i) * ln(a_i / e_i)`` over bins, where ``e_i`` is the reference ("expected")
share of bin ``i`` and ``a_i`` the current ("actual") share. Every term is ``>= 0`` (both factors
have the same sign), so PSI is ``>= 0`` and 0 only for equal shares; it is the symmetrised KL
divergence of the binned distributions. A bin empty on one side would make it infinite, so every
share is first raised to at least :data:`EPSILON` (1e-4: one row in ten thousand), which bounds
one bin's term by about ``ln(1 / EPSILON) = 9.2``. Common readings: below 0.1 stable, 0.1-0.25 a
moderate shift, above 0.25 a large one.

Numbers are cut at ~10 reference quantiles (deciles; ties merge bins, so constant stretches give
fewer); a value equal to an edge goes to the bin above it. Categories use one bin per category.

>>> import numpy as np
>>> psi(np.array([50, 50]), np.array([50, 50]))
0.0
>>> round(psi(np.array([50, 50]), np.array([25, 75])), 4)
0.2747
>>> quantile_edges(np.arange(100.0), bins=4).tolist()
[24.75, 49.5, 74.25]
"""

from __future__ import annotations

import numpy as np

__all__ = ["EPSILON", "bin_counts", "psi", "psi_numeric", "quantile_edges", "quantile_groups"]

#: the smallest share a bin is given, so an empty bin adds a large but finite term
EPSILON = 1e-4


def psi(expected_counts: np.ndarray, actual_counts: np.ndarray, epsilon: float = EPSILON) -> float:
    """PSI between the reference (expected) and current (actual) counts over the same bins."""
    e = np.asarray(expected_counts, dtype=np.float64)
    a = np.asarray(actual_counts, dtype=np.float64)
    e = np.maximum(e / e.sum(), epsilon)
    a = np.maximum(a / a.sum(), epsilon)
    return float(np.sum((a - e) * np.log(a / e)))


def quantile_edges(reference: np.ndarray, bins: int = 10) -> np.ndarray:
    """The distinct inner edges at the reference's ``1/bins, ..., (bins-1)/bins`` quantiles."""
    levels = np.arange(1, bins) / bins
    return np.unique(np.quantile(np.asarray(reference, dtype=np.float64), levels))


def bin_counts(values: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """Counts of ``values`` in the ``len(edges) + 1`` bins the inner ``edges`` cut (a value equal
    to an edge counts in the bin above it)."""
    index = np.searchsorted(edges, np.asarray(values, dtype=np.float64), side="right")
    return np.bincount(index, minlength=edges.size + 1)


def psi_numeric(reference: np.ndarray, current: np.ndarray, bins: int = 10) -> float:
    """PSI of raw numbers over the reference's quantile bins."""
    edges = quantile_edges(reference, bins)
    return psi(bin_counts(reference, edges), bin_counts(current, edges))


def quantile_groups(fine_counts: np.ndarray, bins: int = 10) -> np.ndarray:
    """For counts over fine ordered bins (a stored reference), the group (0, 1, ...) of each fine
    bin when they are merged into about ``bins`` groups of equal reference mass; a group ends
    with the fine bin in which a quantile level falls."""
    counts = np.asarray(fine_counts, dtype=np.float64)
    cumulative = np.cumsum(counts) / counts.sum()
    levels = np.arange(1, bins) / bins
    ends = np.unique(np.searchsorted(cumulative, levels, side="left"))
    return np.searchsorted(ends, np.arange(counts.size), side="left")
