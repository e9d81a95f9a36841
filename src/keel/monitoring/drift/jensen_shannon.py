"""Jensen-Shannon distance between two categorical distributions (the categorical effect size).

With ``M = (P + Q) / 2``, the divergence ``JS = (KL(P || M) + KL(Q || M)) / 2`` in bits (base 2) is
between 0 (same distribution) and 1 (disjoint supports); its square root, the distance, is a
metric, and is what ``scipy.spatial.distance.jensenshannon(p, q, base=2)`` returns. Unlike KL it
stays finite when a category appears in one sample only (a new category). Counts are normalised
to shares first.

>>> import numpy as np
>>> jensen_shannon(np.array([10, 0]), np.array([0, 5]))
1.0
>>> jensen_shannon(np.array([1, 2, 3]), np.array([2, 4, 6]))
0.0
"""

from __future__ import annotations

import math

import numpy as np

__all__ = ["jensen_shannon"]


def jensen_shannon(reference_counts: np.ndarray, current_counts: np.ndarray) -> float:
    """The base-2 Jensen-Shannon distance between the two count (or share) vectors."""
    from scipy.special import rel_entr

    p = np.asarray(reference_counts, dtype=np.float64)
    q = np.asarray(current_counts, dtype=np.float64)
    p = p / p.sum()
    q = q / q.sum()
    m = (p + q) / 2.0
    divergence = (float(np.sum(rel_entr(p, m))) + float(np.sum(rel_entr(q, m)))) / math.log(2.0)
    return math.sqrt(max(divergence / 2.0, 0.0))  # rounding can leave -1e-17
