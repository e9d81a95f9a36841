"""McNemar against a worked example and an exact binomial; DeLong against its definition."""

from __future__ import annotations

import math

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

from keel.evaluation.significance import delong, mcnemar


def paired(both: int, only_candidate: int, only_champion: int, neither: int):
    candidate = [True] * both + [True] * only_candidate + [False] * only_champion
    champion = [True] * both + [False] * only_candidate + [True] * only_champion
    candidate += [False] * neither
    champion += [False] * neither
    order = np.random.default_rng(0).permutation(len(candidate))
    return np.array(candidate)[order], np.array(champion)[order]


def exact_binomial_p(b: int, c: int) -> float:
    """Two-sided exact McNemar: twice the smaller tail of Binomial(b + c, 1/2), at most 1."""
    n, k = b + c, min(b, c)
    tail = sum(math.comb(n, i) for i in range(k + 1)) / 2**n
    return min(1.0, 2 * tail)


def test_mcnemar_textbook_example() -> None:
    # a=101 both right, b=121 only the candidate, c=59 only the champion, d=33 both wrong
    candidate, champion = paired(101, 121, 59, 33)
    plain = mcnemar(candidate, champion, exact=False)
    assert plain.statistic == pytest.approx((121 - 59) ** 2 / 180)
    assert plain.statistic == pytest.approx(21.35, abs=0.01)
    assert plain.p_value == pytest.approx(math.erfc(math.sqrt(plain.statistic / 2)), rel=1e-9)
    assert plain.p_value < 1e-5
    assert plain.detail == {
        "candidate_only": 121,
        "champion_only": 59,
        "discordant": 180,
        "method": "chi2",
    }
    corrected = mcnemar(candidate, champion)
    assert corrected.statistic == pytest.approx((62 - 1) ** 2 / 180)
    assert corrected.detail["method"] == "chi2 with continuity correction"
    exact = mcnemar(candidate, champion, exact=True)
    assert exact.p_value == pytest.approx(exact_binomial_p(121, 59), rel=1e-9)


@pytest.mark.parametrize(("b", "c"), [(0, 1), (1, 9), (3, 3), (7, 12), (12, 3), (0, 24)])
def test_small_discordance_uses_an_exact_binomial(b: int, c: int) -> None:
    candidate, champion = paired(40, b, c, 10)
    result = mcnemar(candidate, champion)
    assert result.detail["method"] == "exact"
    assert result.statistic == min(b, c)
    assert result.p_value == pytest.approx(exact_binomial_p(b, c), rel=1e-9)
    assert mcnemar(champion, candidate).p_value == pytest.approx(result.p_value)


def test_mcnemar_without_discordant_rows() -> None:
    same = np.array([True, False, True])
    result = mcnemar(same, same)
    assert (result.statistic, result.p_value) == (0.0, 1.0)


def delong_by_definition(truth: np.ndarray, a: np.ndarray, b: np.ndarray):
    """O(m*n) DeLong: structural components from the Mann-Whitney kernel, then the variance."""
    positive = truth == 1

    def components(scores: np.ndarray):
        x, y = scores[positive], scores[~positive]
        psi = (x[:, None] > y[None, :]) + 0.5 * (x[:, None] == y[None, :])
        return psi.mean(), psi.mean(axis=1), psi.mean(axis=0)

    (auc_a, v10_a, v01_a), (auc_b, v10_b, v01_b) = components(a), components(b)
    m, n = len(v10_a), len(v01_a)

    def cov(u: np.ndarray, v: np.ndarray) -> float:
        return float(np.sum((u - u.mean()) * (v - v.mean())) / (len(u) - 1))

    s10 = np.array([[cov(v10_a, v10_a), cov(v10_a, v10_b)], [0, cov(v10_b, v10_b)]])
    s01 = np.array([[cov(v01_a, v01_a), cov(v01_a, v01_b)], [0, cov(v01_b, v01_b)]])
    var_a = s10[0, 0] / m + s01[0, 0] / n
    var_b = s10[1, 1] / m + s01[1, 1] / n
    covariance = s10[0, 1] / m + s01[0, 1] / n
    variance = var_a + var_b - 2 * covariance
    return auc_a, auc_b, variance


@pytest.mark.parametrize("seed", range(5))
def test_delong_matches_the_definition_on_tied_scores(seed: int) -> None:
    rng = np.random.default_rng(seed)
    n = int(rng.integers(60, 300))
    truth = rng.integers(0, 2, n)
    a = np.round(truth * 0.8 + rng.normal(0, 1, n), 1)  # rounding makes many ties
    b = np.round(0.6 * a + rng.normal(0, 0.8, n), 1)
    result = delong(truth, a, b)
    auc_a, auc_b, variance = delong_by_definition(truth, a, b)
    assert result.detail["auc_candidate"] == pytest.approx(roc_auc_score(truth, a), abs=1e-12)
    assert result.detail["auc_champion"] == pytest.approx(roc_auc_score(truth, b), abs=1e-12)
    assert result.detail["auc_candidate"] == pytest.approx(auc_a, abs=1e-12)
    assert result.detail["std_error"] == pytest.approx(math.sqrt(variance), abs=1e-6)
    z = (auc_a - auc_b) / math.sqrt(variance)
    assert result.statistic == pytest.approx(z, abs=1e-6)
    assert result.p_value == pytest.approx(math.erfc(abs(z) / math.sqrt(2)), abs=1e-6)
    swapped = delong(truth, b, a)
    assert swapped.statistic == pytest.approx(-result.statistic)
    assert swapped.p_value == pytest.approx(result.p_value)


def test_delong_degenerate_cases() -> None:
    truth = np.array([1, 0, 0, 0])
    assert delong(truth, np.arange(4.0), np.arange(4.0)).p_value == 1.0
    truth = np.array([1, 1, 0, 0])
    scores = np.array([0.9, 0.8, 0.2, 0.1])
    same = delong(truth, scores, scores)
    assert same.statistic == 0.0 and same.p_value == 1.0
