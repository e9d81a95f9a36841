"""Sample ratio mismatch: agreement with the chi-square formula, the null rate, and power."""

from __future__ import annotations

import doctest
from typing import Any

import numpy as np
import pandas as pd
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


# --- the unit: a sticky test's split is decided once per key, not once per row -------------

SIMS, KEYS = 2_000, 400
HALVES = {"stable": 50.0, "candidate": 50.0}


def _rows_per_key(rng: np.random.Generator, kind: int | str, size: tuple[int, int]) -> Any:
    if kind == "geometric":  # most keys send a few requests, some send dozens
        return rng.geometric(1 / 8, size)
    if kind == "poisson":
        return 1 + rng.poisson(9, size)
    return np.full(size, kind)


def _upper(alpha: float, trials: int) -> int:
    """The most flags ``trials`` healthy checks at level ``alpha`` give, but for 1 in 10,000."""
    return int(stats.binom.ppf(1 - 1e-4, trials, alpha))


@pytest.mark.parametrize("kind", [1, 5, 20, "geometric", "poisson"])
def test_healthy_sticky_splits_are_flagged_at_the_nominal_rate_by_keys(kind: int | str) -> None:
    """2,000 healthy 50/50 splits of 400 keys with ``kind`` requests per key: counted by keys
    the check flags at its level; counted by rows it flags far more often from 5 per key on."""
    rng = np.random.default_rng(2026)
    on_candidate = rng.random((SIMS, KEYS)) < 0.5
    rows = _rows_per_key(rng, kind, (SIMS, KEYS))
    keys = on_candidate.sum(axis=1)
    candidate_rows, all_rows = (rows * on_candidate).sum(axis=1), rows.sum(axis=1)
    for alpha in (srm.DEFAULT_ALPHA, 0.05):
        by_keys = sum(
            srm.check(
                {"stable": KEYS - int(k), "candidate": int(k)}, HALVES, alpha=alpha, unit="keys"
            ).mismatch
            for k in keys
        )
        assert by_keys <= _upper(alpha, SIMS), (kind, alpha, by_keys)
        by_rows = sum(
            srm.check({"stable": int(n - c), "candidate": int(c)}, HALVES, alpha=alpha).mismatch
            for c, n in zip(candidate_rows, all_rows, strict=True)
        )
        if kind != 1:  # what counting rows did: 13% (5 per key) to 46% (20) at 0.001
            assert by_rows > 3 * _upper(alpha, SIMS), (kind, alpha, by_rows)


def _sticky_frames(
    rng: np.random.Generator, keys: int, on_candidate: np.ndarray, per_key: np.ndarray
) -> tuple[pd.DataFrame, pd.DataFrame]:
    names = np.repeat(np.array([f"customer-{i}" for i in range(keys)]), per_key)
    side = np.repeat(on_candidate, per_key)
    when = pd.to_datetime(rng.permutation(len(names)), unit="s", utc=True)
    rows = pd.DataFrame({"entity_key": names, "timestamp": when, "status": "ok"})
    return rows[~side].reset_index(drop=True), rows[side].reset_index(drop=True)


def test_the_rows_of_healthy_sticky_tests_are_counted_by_key() -> None:
    """Through check_split from the logged rows: 120 healthy splits of 200 keys with uneven
    requests per key (geometric, mean 8) are not flagged; counting rows flags many."""
    rng = np.random.default_rng(99)
    by_keys = by_rows = 0
    for _ in range(120):
        frames = _sticky_frames(rng, 200, rng.random(200) < 0.5, rng.geometric(1 / 8, 200))
        found = srm.check_split(*frames, HALVES, sticky=True)
        assert found.unit == "keys" and sum(found.counts.values()) == 200
        by_keys += found.mismatch
        by_rows += srm.check_split(*frames, HALVES, sticky=False).mismatch
    assert by_keys <= _upper(srm.DEFAULT_ALPHA, 120)
    assert by_rows >= 24  # about 40% of them


def test_the_live_case_of_209_keys_of_400_on_the_candidate_is_not_a_mismatch() -> None:
    """An A/B test was stopped for "sample ratio mismatch" with 209 of 400 keys on the
    candidate, 20 requests each: p = 5.7e-5 by rows, but the keys were split as configured."""
    rng = np.random.default_rng(0)
    on_candidate = np.zeros(400, dtype=bool)
    on_candidate[rng.choice(400, 209, replace=False)] = True
    stable, candidate = _sticky_frames(rng, 400, on_candidate, np.full(400, 20))
    found = srm.check_split(stable, candidate, HALVES, sticky=True)
    assert not found.mismatch and found.unit == "keys"
    assert found.counts == {"stable": 191, "candidate": 209}
    assert found.rows == {"stable": 3_820, "candidate": 4_180}
    assert found.p_value == pytest.approx(stats.chisquare([191, 209]).pvalue)
    assert "split as configured by keys: stable 191 keys" in found.reason
    assert "(rows: stable 3,820, candidate 4,180)" in found.reason
    assert found.to_dict()["summary"] == found.reason
    by_rows = srm.check_split(stable, candidate, HALVES, sticky=False)
    assert by_rows.mismatch and f"{by_rows.p_value:.1e}" == "5.7e-05"
    assert by_rows.unit == "rows" and "sample ratio mismatch by rows" in by_rows.reason


def test_keys_seen_on_both_variants_are_named_in_the_reason() -> None:
    stable = pd.DataFrame({"entity_key": ["a", "b"], "timestamp": [1, 2]})
    candidate = pd.DataFrame({"entity_key": ["a", "c"], "timestamp": [0, 3]})
    found = srm.check_split(stable, candidate, HALVES, sticky=True)
    assert found.mixed_keys == 1 and found.counts == {"stable": 1, "candidate": 2}
    assert "keys seen on both variants: 1 (counted where first seen)" in found.reason
