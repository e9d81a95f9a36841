"""Sample ratio mismatch: agreement with the chi-square formula, the null rate, and power."""

from __future__ import annotations

import doctest

import numpy as np
import pytest
from scipy import stats

from keel.errors import InvalidInput
from keel.rollout import srm


def test_docstring_examples_run() -> None:
    assert doctest.testmod(srm).failed == 0


def test_statistic_is_the_chi_square_goodness_of_fit() -> None:
    result = srm.check({"stable": 7_200, "candidate": 2_800}, {"stable": 70, "candidate": 30})
    expected = (7_200 - 7_000) ** 2 / 7_000 + (2_800 - 3_000) ** 2 / 3_000
    assert result.statistic == pytest.approx(expected)
    assert result.p_value == pytest.approx(stats.chi2.sf(expected, 1))
    assert result.expected_shares == {"stable": 0.7, "candidate": 0.3}
    assert result.observed_shares == {"stable": 0.72, "candidate": 0.28}
    assert result.mismatch and "sample ratio mismatch" in result.reason


def test_a_split_as_configured_is_not_flagged_and_no_rows_is_nothing_to_flag() -> None:
    assert not srm.check({"a": 4_990, "b": 5_010}, {"a": 1, "b": 1}).mismatch
    empty = srm.check({"a": 0, "b": 0}, {"a": 95, "b": 5})
    assert (empty.p_value, empty.mismatch) == (1.0, False)


def test_healthy_splits_are_almost_never_flagged_and_real_skews_are() -> None:
    rng = np.random.default_rng(7)
    shares = {"stable": 80.0, "candidate": 20.0}
    flagged = 0
    for _ in range(2_000):
        candidate = int(rng.binomial(10_000, 0.2))
        counts = {"stable": 10_000 - candidate, "candidate": candidate}
        flagged += srm.check(counts, shares).mismatch
    assert flagged <= 8  # 2 expected at p < 0.001
    skewed = 0
    for _ in range(200):
        candidate = int(rng.binomial(100_000, 0.19))  # 5% of the candidate's rows lost
        skewed += srm.check(
            {"stable": 100_000 - candidate, "candidate": candidate}, shares
        ).mismatch
    assert skewed >= 190


@pytest.mark.parametrize(
    ("counts", "shares", "field"),
    [
        ({"a": 10}, {"a": 1}, "counts"),
        ({"a": 10, "b": 5}, {"a": 1, "c": 1}, "counts"),
        ({"a": -1, "b": 5}, {"a": 1, "b": 1}, "counts"),
        ({"a": 1, "b": 5}, {"a": 0, "b": 1}, "shares"),
    ],
)
def test_bad_inputs_are_refused(
    counts: dict[str, int], shares: dict[str, float], field: str
) -> None:
    with pytest.raises(InvalidInput) as caught:
        srm.check(counts, shares)
    assert caught.value.field == field
