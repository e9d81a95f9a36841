"""The mixture SPRT: peeking keeps false positives at alpha (a fixed-n z-test does not), real
differences stop for the right winner, and the confidence sequence agrees with the p-value."""

from __future__ import annotations

import doctest
import math
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from keel.errors import InvalidInput
from keel.rollout import sequential
from keel.rollout.sequential import (
    compare_means,
    compare_proportions,
    compare_proportions_by_unit,
    decide,
    design_effect,
)

ALPHA = 0.05
LOOK_EVERY = 100  # rows, both arms together
MAX_ROWS = 20_000


def _peeking(p_stable: float, p_candidate: float, sims: int, seed: int) -> dict[str, float]:
    """Share of simulated tests that ever declare a winner (and which) when looked at every
    100 rows up to 20,000, by the mSPRT and by a naive fixed-n two-proportion z-test."""
    rng = np.random.default_rng(seed)
    per_arm = MAX_ROWS // 2
    looks = range(LOOK_EVERY // 2, per_arm + 1, LOOK_EVERY // 2)
    better = worse = naive = 0
    for _ in range(sims):
        stable = np.cumsum(rng.random(per_arm) < p_stable)
        candidate = np.cumsum(rng.random(per_arm) < p_candidate)
        seq_decision, naive_hit = "continue", False
        for n in looks:
            s, c = int(stable[n - 1]), int(candidate[n - 1])
            if seq_decision == "continue":
                result = compare_proportions((s, n), (c, n), alpha=ALPHA, minimum_effect=0.01)
                if result.decision in ("candidate_better", "candidate_worse"):
                    seq_decision = result.decision
            pooled = (s + c) / (2 * n)
            se = math.sqrt(pooled * (1 - pooled) * 2 / n)
            naive_hit |= se > 0 and abs(c - s) / n / se > 1.959964
        better += seq_decision == "candidate_better"
        worse += seq_decision == "candidate_worse"
        naive += naive_hit
    return {"better": better / sims, "worse": worse / sims, "naive": naive / sims}


def test_docstring_examples_run() -> None:
    assert doctest.testmod(sequential).failed == 0


@pytest.mark.parametrize("rate", [0.3, 0.05])
def test_peeking_under_no_difference_keeps_false_positives_at_alpha(rate: float) -> None:
    found = _peeking(rate, rate, sims=300, seed=11)
    false_positives = found["better"] + found["worse"]
    # alpha plus two binomial standard errors of 300 simulations
    assert false_positives <= ALPHA + 2 * math.sqrt(ALPHA * (1 - ALPHA) / 300)
    # the same looks with a fixed-n z-test find "winners" several times as often
    assert found["naive"] > 4 * ALPHA


def test_a_real_difference_stops_for_the_right_winner() -> None:
    found = _peeking(0.30, 0.36, sims=60, seed=3)
    assert found["better"] >= 0.95 and found["worse"] == 0
    found = _peeking(0.36, 0.30, sims=60, seed=4)
    assert found["worse"] >= 0.95 and found["better"] == 0


def test_lower_is_better_turns_the_winner_around() -> None:
    result = compare_proportions(
        (300, 5_000), (150, 5_000), alpha=ALPHA, minimum_effect=0.01, higher_is_better=False
    )
    assert result.decision == "candidate_better" and result.estimate < 0


def test_futility_when_any_effect_is_surely_smaller_than_the_minimum() -> None:
    result = compare_proportions((60_000, 200_000), (60_100, 200_000), minimum_effect=0.01)
    low, high = result.interval
    assert result.decision == "futility" and -0.01 < low < 0 < high < 0.01
    assert "futility" in result.reason


def test_max_size_stops_an_undecided_test_and_min_rows_holds_back_early_calls() -> None:
    undecided = compare_proportions((300, 1_000), (310, 1_000), max_rows=2_000)
    assert undecided.decision == "max_size"
    early = compare_proportions((10, 50), (45, 50), min_rows=100, tau=0.5)
    assert early.decision == "continue" and early.p_value < ALPHA


def test_means_find_a_shift_and_not_noise() -> None:
    rng = np.random.default_rng(5)
    shifted = compare_means(
        rng.normal(10, 2, 4_000), rng.normal(10.5, 2, 4_000), minimum_effect=0.1
    )
    assert shifted.decision == "candidate_better"
    same = compare_means(rng.normal(10, 2, 4_000), rng.normal(10, 2, 4_000), minimum_effect=0.1)
    assert same.decision not in ("candidate_better", "candidate_worse")
    assert compare_means([1.0], [2.0, 3.0]).decision == "continue"


def test_bad_inputs_are_refused() -> None:
    with pytest.raises(InvalidInput):
        compare_proportions((11, 10), (5, 10))
    with pytest.raises(InvalidInput):
        decide(0.1, 0.01, (100, 100), alpha=1.5)
    with pytest.raises(InvalidInput):
        decide(0.1, -1.0, (100, 100))
    with pytest.raises(InvalidInput):
        decide(0.1, 0.01, (100, 100), minimum_effect=0)


arms = st.tuples(st.integers(1, 5_000), st.integers(0, 5_000)).map(
    lambda t: (min(t[0], t[1]), t[1] if t[1] > 0 else 1)
)


@settings(max_examples=200, deadline=None)
@given(stable=arms, candidate=arms, alpha=st.sampled_from([0.01, 0.05, 0.1]))
def test_p_value_and_confidence_sequence_agree(
    stable: tuple[int, int], candidate: tuple[int, int], alpha: float
) -> None:
    result = compare_proportions(stable, candidate, alpha=alpha, min_rows=1)
    low, high = result.interval
    assert 0.0 <= result.p_value <= 1.0
    assert low <= result.estimate <= high
    excludes_zero = low > 0 or high < 0
    if abs(result.p_value - alpha) > 1e-9:
        assert excludes_zero == (result.p_value < alpha)
    swapped = compare_proportions(candidate, stable, alpha=alpha, min_rows=1)
    assert swapped.estimate == pytest.approx(-result.estimate)
    assert swapped.p_value == pytest.approx(result.p_value)
    flip = {"candidate_better": "candidate_worse", "candidate_worse": "candidate_better"}
    assert swapped.decision == flip.get(result.decision, result.decision)
    stricter = compare_proportions(stable, candidate, alpha=alpha / 10, min_rows=1)
    assert stricter.interval[0] <= low and high <= stricter.interval[1]


# --- the unit: a key's requests are alike, so they are not independent observations --------

KEYS_PER_ARM, LOOK_EVERY_KEYS = 400, 40


def _clustered_null(kind: int | str, sims: int, seed: int) -> dict[str, float]:
    """Share of healthy A/B tests (same error rate, 0.1 on average, in both arms) that ever
    declare a winner when looked at every 40 keys per arm, by rows and by keys. Each key has its
    own error propensity (Beta(0.4, 3.6): intra-key correlation 0.2) and ``kind`` requests."""
    rng = np.random.default_rng(seed)
    options: dict[str, Any] = {"alpha": ALPHA, "minimum_effect": 0.01, "min_rows": 100}
    by_rows = by_keys = 0
    for _ in range(sims):
        arms = []
        for _arm in range(2):
            n = (
                rng.geometric(1 / 8, KEYS_PER_ARM)
                if kind == "geometric"
                else np.full(KEYS_PER_ARM, kind)
            )
            arms.append((rng.binomial(n, rng.beta(0.4, 3.6, KEYS_PER_ARM)), n))
        rows_hit = keys_hit = False
        for k in range(LOOK_EVERY_KEYS, KEYS_PER_ARM + 1, LOOK_EVERY_KEYS):
            (ss, sn), (cs, cn) = ((s[:k], n[:k]) for s, n in arms)
            if not rows_hit:
                found = compare_proportions(
                    (int(ss.sum()), int(sn.sum())), (int(cs.sum()), int(cn.sum())), **options
                )
                rows_hit = found.decision in ("candidate_better", "candidate_worse")
            if not keys_hit:
                found = compare_proportions_by_unit((ss, sn), (cs, cn), **options)
                keys_hit = found.decision in ("candidate_better", "candidate_worse")
        by_rows += rows_hit
        by_keys += keys_hit
    return {"rows": by_rows / sims, "keys": by_keys / sims}


@pytest.mark.parametrize("kind", [1, 5, 20, "geometric"])
def test_peeking_at_a_sticky_test_keeps_false_positives_at_alpha_by_keys(kind: int | str) -> None:
    found = _clustered_null(kind, sims=150, seed=21)
    assert found["keys"] <= ALPHA + 2 * math.sqrt(ALPHA * (1 - ALPHA) / 150), found
    if kind == 20:  # counting rows: a "winner" in about 40% of healthy tests
        assert found["rows"] > 4 * ALPHA, found


def test_a_real_difference_is_still_found_by_keys() -> None:
    rng = np.random.default_rng(8)
    n = np.full(400, 20)
    stable = rng.binomial(n, rng.beta(1.0, 9.0, 400))  # 10% errors
    candidate = rng.binomial(n, rng.beta(0.6, 9.4, 400))  # 6% errors
    found = compare_proportions_by_unit(
        (stable, n), (candidate, n), alpha=ALPHA, minimum_effect=0.01, higher_is_better=False
    )
    assert found.decision == "candidate_better" and found.unit == "keys"
    assert found.units == (400, 400) and min(found.design_effects) > 1.5
    assert "by keys: 400 and 400" in found.reason
    assert found.to_dict()["units"] == [400, 400]


def test_one_row_per_unit_is_the_test_of_rows() -> None:
    rng = np.random.default_rng(1)
    stable, candidate = rng.random(3_000) < 0.30, rng.random(3_000) < 0.34
    ones = np.ones(3_000)
    by_unit = compare_proportions_by_unit((stable, ones), (candidate, ones), unit="rows")
    by_rows = compare_proportions((int(stable.sum()), 3_000), (int(candidate.sum()), 3_000))
    assert by_unit.design_effects == pytest.approx((1.0, 1.0))
    assert by_unit.p_value == pytest.approx(by_rows.p_value)
    assert by_unit.decision == by_rows.decision and by_unit.units == (3_000, 3_000)


def test_design_effect_is_one_without_grouping_and_the_group_size_when_alike() -> None:
    assert design_effect([1, 0, 1, 1, 0], [1] * 5) == pytest.approx(1.0)
    assert design_effect([20, 0] * 100, [20] * 200) == pytest.approx(20.0, rel=0.01)
    assert design_effect([0, 0], [5, 5]) == 1.0  # nothing to estimate it from
    assert design_effect([3], [5]) == 1.0


def test_a_test_by_keys_waits_for_enough_keys() -> None:
    n = np.full(20, 50)
    early = compare_proportions_by_unit(
        (np.full(20, 5), n), (np.full(20, 25), n), minimum_effect=0.01
    )
    assert early.decision == "continue" and early.p_value < ALPHA


def test_unit_arms_must_be_successes_and_rows_per_unit() -> None:
    with pytest.raises(InvalidInput) as caught:
        compare_proportions_by_unit(([1, 2], [1]), ([1], [1]))
    assert caught.value.field == "stable"
    with pytest.raises(InvalidInput) as caught:
        compare_proportions_by_unit(([1], [1]), ([3], [2]))
    assert caught.value.field == "candidate"
