"""On a sticky deployment a canary step counts entity keys: a customer's requests are alike, so
the error, accuracy and latency checks widen their variance by the keys' design effect, and a
step needs keys as well as rows. Seeded simulations: healthy canaries breach at about the
nominal rate by keys (and far more often by rows), real regressions still breach."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pytest

from keel.domain.policy import Rollout
from keel.monitoring.drift import ReferenceProfile
from keel.monitoring.estimation import Calibrator
from keel.monitoring.references import Reference
from keel.rollout.analysis import SIGNIFICANCE, analyse_step
from keel.rollout.limits import Limits

LIMITS = Limits.resolve(Rollout())
#: no margin: a breach is then the significance test alone, whose false alarms are measured
NO_MARGIN = Limits.resolve(Rollout(), {"max_error_rate_increase": 0.0})


def keyed(counts: np.ndarray, prefix: str, **columns: Any) -> pd.DataFrame:
    """Rows of keys ``prefix0``, ``prefix1``, ... with ``counts[i]`` requests each."""
    keys = np.repeat([f"{prefix}{i}" for i in range(len(counts))], counts)
    frame = pd.DataFrame(
        {
            "request_id": [f"{prefix}-r{i}" for i in range(len(keys))],
            "entity_key": keys,
            "status": "ok",
            "latency_ms": 10.0,
            "prediction": 1,
        }
    )
    return frame.assign(**columns)


def simulated_arm(
    rng: np.random.Generator, keys: int, per_key: int, lift: float = 0.0
) -> pd.DataFrame:
    """``keys`` customers with uneven request counts (``per_key`` on average, exactly one when
    it is 1), each erring with its own propensity drawn from Beta(0.1, 1.9): mean 5%, and most
    errors come from a few keys that err on most of their requests."""
    counts = np.ones(keys, dtype=int) if per_key == 1 else rng.integers(1, 2 * per_key, keys)
    propensity = np.clip(rng.beta(0.1, 1.9, keys) + lift, 0.0, 1.0)
    errors = rng.random(int(counts.sum())) < np.repeat(propensity, counts)
    return pd.DataFrame(  # keys as numbers here: quicker to build than strings, counted alike
        {
            "entity_key": np.repeat(np.arange(keys), counts),
            "status": np.where(errors, "error", "ok"),
            "latency_ms": 10.0,
        }
    )


def breaches(
    per_key: int,
    steps: int,
    seed: int,
    *,
    sticky: bool,
    limits: Limits = NO_MARGIN,
    lift: float = 0.0,
) -> list[bool]:
    """Whether each of ``steps`` simulated steps (300 stable keys, 200 candidate keys) breached
    on the error rate."""
    rng = np.random.default_rng(seed)
    found = []
    for _ in range(steps):
        stable = simulated_arm(rng, 300, per_key)
        candidate = simulated_arm(rng, 200, per_key, lift)
        result = analyse_step(stable, candidate, limits, elapsed_s=0, interval_s=600, sticky=sticky)
        found.append([c.metric for c in result.breaches] == ["error_rate"])
    return found


@pytest.fixture(scope="module")
def healthy() -> dict[int, list[bool]]:
    """200 healthy steps at 1, 5 and 20 requests per key, counted by keys."""
    return {per_key: breaches(per_key, 200, seed=per_key, sticky=True) for per_key in (1, 5, 20)}


def test_healthy_canaries_breach_at_about_the_nominal_rate_when_counted_by_keys(
    healthy: dict[int, list[bool]],
) -> None:
    every = [breached for found in healthy.values() for breached in found]
    assert np.mean(every) <= 2 * SIGNIFICANCE, {k: sum(v) for k, v in healthy.items()}
    for per_key, found in healthy.items():
        assert np.mean(found) <= 3 * SIGNIFICANCE, (per_key, sum(found))


def test_counted_by_rows_the_same_healthy_canaries_breach_far_more_often(
    healthy: dict[int, list[bool]],
) -> None:
    # the first 100 of the 20-requests-per-key steps again, each row taken as independent
    by_rows = breaches(20, 100, seed=20, sticky=False)
    by_keys = healthy[20][:100]
    assert np.mean(by_rows) >= 10 * SIGNIFICANCE
    assert sum(by_rows) >= 5 * max(sum(by_keys), 1)
    assert all(rows for keys, rows in zip(by_keys, by_rows, strict=True) if keys)


def test_a_real_regression_across_many_keys_still_breaches() -> None:
    found = breaches(20, 40, seed=7, sticky=True, limits=LIMITS, lift=0.10)
    assert np.mean(found) >= 0.95


def test_a_step_of_few_keys_says_so_and_a_breach_does_not_wait_for_more() -> None:
    stable = keyed(np.full(100, 5), "s")
    # one of the candidate's 3 keys always fails: by keys that is one bad customer, not proof
    few = keyed(np.array([150, 150, 100]), "c", status=["error"] * 100 + ["ok"] * 300)
    one_bad = analyse_step(stable, few, LIMITS, elapsed_s=700, interval_s=600, sticky=True)
    assert one_bad.verdict == "pass" and not any(c.breached for c in one_bad.checks)
    assert "few keys" in one_bad.reasons[0] and "candidate 3 keys" in one_bad.reasons[0]
    many = analyse_step(stable, stable, LIMITS, elapsed_s=700, interval_s=600, sticky=True)
    assert many.verdict == "pass" and not any("few keys" in r for r in many.reasons)
    # every one of the 3 keys fails half its requests: a breach does not wait for 30 keys
    failing = keyed(
        np.array([150, 150, 100]), "c", status=["error", "ok"] * 75 + ["ok", "error"] * 125
    )
    rolled = analyse_step(stable, failing, LIMITS, elapsed_s=10, interval_s=600, sticky=True)
    assert rolled.verdict == "breach" and rolled.breaches[0].metric == "error_rate"
    assert "3 keys" in rolled.breaches[0].detail
    by_rows = analyse_step(stable, few, LIMITS, elapsed_s=700, interval_s=600, sticky=False)
    assert by_rows.verdict == "breach" and by_rows.breaches[0].metric == "error_rate"
    keyless = analyse_step(
        stable.assign(entity_key=None), few.assign(entity_key=None), LIMITS,
        elapsed_s=700, interval_s=600, sticky=True,
    )  # fmt: skip
    assert keyless.verdict == "breach" and "by rows" in keyless.breaches[0].detail


def test_errors_of_a_few_keys_are_not_a_regression_and_each_check_names_its_unit() -> None:
    # stable: 2 of 100 customers always get an error (2%); candidate: 2 of 40 (5%, +3%)
    stable = keyed(np.full(100, 20), "s", status=["error"] * 40 + ["ok"] * 1960)
    candidate = keyed(np.full(40, 10), "c", status=["error"] * 20 + ["ok"] * 380)
    by_keys = analyse_step(stable, candidate, LIMITS, elapsed_s=700, interval_s=600, sticky=True)
    by_rows = analyse_step(stable, candidate, LIMITS, elapsed_s=700, interval_s=600, sticky=False)
    assert by_rows.verdict == "breach" and by_keys.verdict == "pass"
    errors = by_keys.checks[0]
    assert errors.p_value is not None and errors.p_value > 0.05
    assert (by_keys.stable.units, by_keys.candidate.units) == (100, 40)
    assert by_keys.stable.error_effect > 10 and by_rows.stable.error_effect == 1.0
    for check in by_keys.checks:
        assert "by 100 and 40 keys" in check.detail, check.detail
    for check in by_rows.checks:
        assert "by rows" in check.detail and "keys" not in check.detail, check.detail
    assert by_keys.to_dict()["candidate"]["unit"] == "keys"


def test_one_slow_customer_does_not_breach_latency_a_slower_version_does() -> None:
    stable = keyed(np.full(100, 20), "s")
    one_slow = keyed(np.full(50, 20), "c", latency_ms=[5_000.0] * 20 + [10.0] * 980)
    by_keys = analyse_step(stable, one_slow, LIMITS, elapsed_s=700, interval_s=600, sticky=True)
    by_rows = analyse_step(stable, one_slow, LIMITS, elapsed_s=700, interval_s=600, sticky=False)
    (latency,) = [c for c in by_keys.checks if c.metric == "latency_p99_ms"]
    assert latency.candidate is not None and latency.stable is not None
    assert latency.candidate > 1.5 * latency.stable and not latency.breached
    assert (
        "2.0% of the candidate's rows" in latency.detail and "by 100 and 50 keys" in latency.detail
    )
    assert by_keys.verdict == "pass"
    assert [c.metric for c in by_rows.breaches] == ["latency_p99_ms"]
    rng = np.random.default_rng(3)
    slower = keyed(np.full(50, 20), "c", latency_ms=rng.lognormal(np.log(40.0), 0.3, 1000))
    everywhere = analyse_step(stable, slower, LIMITS, elapsed_s=0, interval_s=600, sticky=True)
    assert [c.metric for c in everywhere.breaches] == ["latency_p99_ms"]


@pytest.fixture(scope="module")
def reference() -> Reference:
    return Reference(
        snapshot="train/1",
        task="classification",
        classes=[0, 1],
        features=["x"],
        target="y",
        inputs=ReferenceProfile.build(pd.DataFrame({"x": np.linspace(0, 1, 50)})),
        outputs=None,
        labels=None,
        calibrator=Calibrator.identity([0, 1]),
        rows=50,
    )


def test_labelled_accuracy_is_counted_by_keys(reference: Reference) -> None:
    # stable: 5 of 100 customers always answered wrongly (95%); candidate: 10 of 100 (90%)
    stable, candidate = keyed(np.full(100, 10), "s"), keyed(np.full(100, 10), "c")
    labels = pd.concat(
        [
            pd.DataFrame({"request_id": frame["request_id"], "label": [0] * wrong + [1] * rest})
            for frame, wrong, rest in ((stable, 50, 950), (candidate, 100, 900))
        ]
    )
    results = {
        sticky: analyse_step(
            stable, candidate, LIMITS, elapsed_s=700, interval_s=600,
            labels=labels, reference_of=lambda side: reference, sticky=sticky,
        )
        for sticky in (True, False)
    }  # fmt: skip
    rows, keys = (
        next(c for c in results[s].checks if c.metric == "accuracy") for s in (False, True)
    )
    assert (rows.stable, rows.candidate) == (keys.stable, keys.candidate) == (0.95, 0.90)
    assert rows.breached and not keys.breached
    assert keys.p_value is not None and rows.p_value is not None and keys.p_value > 0.05
    assert "accuracy (labels)" in keys.detail and "by 100 and 100 keys" in keys.detail
    assert results[True].candidate.accuracy_effect > 5


def test_estimated_accuracy_is_counted_by_keys(reference: Reference) -> None:
    # scores alike within a key: 5 (stable) and 15 (candidate) of 100 customers are unsure ones
    stable = keyed(np.full(100, 10), "s", score=[0.55] * 50 + [0.97] * 950)
    candidate = keyed(np.full(100, 10), "c", score=[0.55] * 150 + [0.97] * 850)
    rows, keys = (
        analyse_step(
            stable, candidate, LIMITS, elapsed_s=700, interval_s=600,
            reference_of=lambda side: reference, sticky=sticky,
        )
        for sticky in (False, True)
    )  # fmt: skip
    by_rows, by_keys = (
        next(c for c in result.checks if c.metric == "accuracy") for result in (rows, keys)
    )
    assert by_rows.candidate == pytest.approx(by_keys.candidate) == pytest.approx(0.907)
    assert "accuracy (estimates)" in by_keys.detail and "by 100 and 100 keys" in by_keys.detail
    assert keys.candidate.estimated_effect > keys.stable.estimated_effect > 1.0
    assert rows.candidate.estimated_effect == 1.0
    assert by_keys.p_value is not None and by_rows.p_value is not None
    assert by_keys.p_value > 10 * by_rows.p_value
