"""Paired significance tests between a candidate and the champion on the same rows.

McNemar's test compares accuracies through the rows only one model gets right; DeLong's test
compares ROC AUCs through their structural components (the fast midrank form of Sun & Xu, 2014).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np


@dataclass(frozen=True)
class TestResult:
    test: str
    statistic: float
    p_value: float
    detail: dict[str, Any]

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def mcnemar(
    candidate_correct: np.ndarray, champion_correct: np.ndarray, *, exact: bool | None = None
) -> TestResult:
    """McNemar's test on paired correctness.

    ``exact=None`` uses the exact binomial test when fewer than 25 rows are discordant and the
    chi-square statistic with continuity correction otherwise; ``exact=False`` without correction
    gives the textbook ``(b - c)^2 / (b + c)``.
    """
    from scipy import stats

    a = np.asarray(candidate_correct, dtype=bool)
    b_ = np.asarray(champion_correct, dtype=bool)
    b = int(np.sum(a & ~b_))  # only the candidate is right
    c = int(np.sum(~a & b_))  # only the champion is right
    discordant = b + c
    detail = {"candidate_only": b, "champion_only": c, "discordant": discordant}
    if discordant == 0:
        return TestResult("mcnemar", 0.0, 1.0, {**detail, "method": "no discordant rows"})
    use_exact = discordant < 25 if exact is None else exact
    if use_exact:
        p = float(stats.binomtest(min(b, c), discordant, 0.5).pvalue)
        return TestResult("mcnemar", float(min(b, c)), min(1.0, p), {**detail, "method": "exact"})
    corrected = exact is None
    numerator = (abs(b - c) - 1.0) ** 2 if corrected else float(b - c) ** 2
    statistic = numerator / discordant
    method = "chi2 with continuity correction" if corrected else "chi2"
    return TestResult(
        "mcnemar", statistic, float(stats.chi2.sf(statistic, 1)), {**detail, "method": method}
    )


def _structural_components(
    positives: np.ndarray, negatives: np.ndarray
) -> tuple[float, np.ndarray, np.ndarray]:
    from scipy.stats import rankdata

    m, n = len(positives), len(negatives)
    within_pos = rankdata(positives)
    within_neg = rankdata(negatives)
    combined = rankdata(np.concatenate([positives, negatives]))
    auc = (combined[:m].sum() - m * (m + 1) / 2.0) / (m * n)
    v10 = (combined[:m] - within_pos) / n  # per positive: share of negatives scored below it
    v01 = 1.0 - (combined[m:] - within_neg) / m  # per negative: share of positives above it
    return float(auc), v10, v01


def delong(
    y_true: np.ndarray, candidate_scores: np.ndarray, champion_scores: np.ndarray
) -> TestResult:
    """DeLong's test that two correlated ROC AUCs on the same rows are equal.

    ``y_true`` holds 1 for the positive class. The statistic is z = (AUC_candidate -
    AUC_champion) / SE; the p-value is two-sided.
    """
    from scipy import stats

    truth = np.asarray(y_true).astype(bool)
    m, n = int(truth.sum()), int((~truth).sum())
    if m < 2 or n < 2:
        return TestResult("delong", 0.0, 1.0, {"method": "needs two rows of each class"})
    comps = [
        _structural_components(
            np.asarray(s, dtype=float)[truth], np.asarray(s, dtype=float)[~truth]
        )
        for s in (candidate_scores, champion_scores)
    ]
    aucs = np.array([c[0] for c in comps])
    s10 = np.cov(np.vstack([c[1] for c in comps]))
    s01 = np.cov(np.vstack([c[2] for c in comps]))
    covariance = s10 / m + s01 / n
    variance = float(covariance[0, 0] + covariance[1, 1] - 2 * covariance[0, 1])
    difference = float(aucs[0] - aucs[1])
    detail = {
        "auc_candidate": float(aucs[0]),
        "auc_champion": float(aucs[1]),
        "difference": difference,
        "std_error": float(np.sqrt(max(variance, 0.0))),
    }
    if variance <= 0:
        return TestResult("delong", 0.0, 1.0 if difference == 0 else 0.0, detail)
    z = difference / np.sqrt(variance)
    return TestResult("delong", float(z), float(2 * stats.norm.sf(abs(z))), detail)
