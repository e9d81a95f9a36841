"""Chi-square test of homogeneity for a categorical feature, with Cramér's V as its effect.

The reference and the current window are the two rows of a 2 x K contingency table of category
counts; under "no drift" both rows share one distribution over the K categories. The statistic is
Pearson's ``sum (observed - expected)^2 / expected`` with ``K - 1`` degrees of freedom, without
Yates' continuity correction: exactly ``scipy.stats.chi2_contingency(table, correction=False)``.
A category empty in both rows carries no information and is dropped (SciPy refuses a zero
expected count). Cramér's V, ``sqrt(chi2 / N)`` for two rows, is between 0 and 1 whatever the
number of rows ``N``, which makes it an effect size where the p-value is not.

>>> import numpy as np
>>> result = chi_square(np.array([50, 30, 20]), np.array([30, 30, 40]))
>>> round(result.statistic, 3), result.dof, round(result.cramers_v, 3)
(11.667, 2, 0.242)
>>> chi_square(np.array([5, 0, 5]), np.array([5, 0, 5])).p_value
1.0
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

__all__ = ["ChiSquareResult", "chi_square"]


@dataclass(frozen=True)
class ChiSquareResult:
    statistic: float
    p_value: float
    dof: int
    cramers_v: float
    rows: int  # total count in the table


def chi_square(reference_counts: np.ndarray, current_counts: np.ndarray) -> ChiSquareResult:
    """Pearson's chi-square on the 2 x K table whose rows are the two count vectors."""
    from scipy import stats

    table = np.vstack(
        [np.asarray(reference_counts, dtype=np.float64), np.asarray(current_counts, np.float64)]
    )
    table = table[:, table.sum(axis=0) > 0]
    total = float(table.sum())
    rows = table.sum(axis=1)
    if table.shape[1] < 2 or rows.min() == 0:
        return ChiSquareResult(0.0, 1.0, 0, 0.0, round(total))
    expected = np.outer(rows, table.sum(axis=0)) / total
    statistic = float(((table - expected) ** 2 / expected).sum())
    dof = table.shape[1] - 1
    p = float(stats.chi2.sf(statistic, dof))
    return ChiSquareResult(statistic, p, dof, math.sqrt(statistic / total), round(total))
