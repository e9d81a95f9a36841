"""The quality targets: almost no false alarms without drift at 100,000 rows a window, where an
uncorrected p < 0.05 rule alarms in many; a 0.1 standard-deviation shift in one feature of 20 is
caught in one window, alone; the domain classifier sees what the marginal tests cannot."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from keel.monitoring.drift import DriftConfig, ReferenceProfile, detect_drift

from ._data import numbers

ROWS = 100_000
FEATURES = 20


@pytest.fixture(scope="module")
def reference() -> pd.DataFrame:
    return numbers(ROWS, FEATURES, seed=0)


@pytest.fixture(scope="module")
def profile(reference: pd.DataFrame) -> ReferenceProfile:
    return ReferenceProfile.build(reference, seed=0)


def windows(count: int, seed: int) -> list[pd.DataFrame]:
    rng = np.random.default_rng(seed)
    columns = [f"x{i:02d}" for i in range(FEATURES)]
    return [
        pd.DataFrame(rng.standard_normal((ROWS, FEATURES)), columns=columns) for _ in range(count)
    ]


@pytest.mark.slow
def test_windows_without_drift_almost_never_alarm(profile: ReferenceProfile) -> None:
    """50 windows x 20 features = 1,000 tests: no window may alarm (< 1%), while the naive rule
    (any raw p < 0.05, no correction, no effect size) alarms in a large share of them."""
    config = DriftConfig(multivariate=False)
    alarms = naive = 0
    p_values: list[float] = []
    for window in windows(50, seed=123):
        report = detect_drift(profile, window, config)
        alarms += report.alarm
        p_values += [f.p_value for f in report.features]
        naive += min(f.p_value for f in report.features[:FEATURES]) < 0.05
        assert max(f.effect for f in report.features) < config.numeric_effect / 2
    assert alarms == 0
    assert naive >= 15  # 30% of the windows; with exact p-values it would be 1 - 0.95^20 = 64%
    # the binned KS is conservative (its D never exceeds the raw D), never anti-conservative
    share = np.mean(np.array(p_values) < 0.05)
    assert 0.015 <= share <= 0.06


@pytest.mark.slow
def test_the_domain_classifier_stays_quiet_without_drift(profile: ReferenceProfile) -> None:
    for seed, window in enumerate(windows(8, seed=321)):
        report = detect_drift(profile, window, DriftConfig(seed=seed))
        assert report.multivariate is not None
        assert not report.multivariate["drifted"] and report.multivariate["auc"] < 0.53
        assert not report.alarm


@pytest.mark.slow
@pytest.mark.parametrize("target", ["x00", "x07", "x19"])
def test_a_tenth_of_a_standard_deviation_is_caught_alone(
    profile: ReferenceProfile, reference: pd.DataFrame, target: str
) -> None:
    (window,) = windows(1, seed=int(target[1:]))
    window[target] += 0.1
    report = detect_drift(profile, window, DriftConfig())
    assert report.drifted == [target]
    feature = report.feature(target)
    assert feature.effect == pytest.approx(0.1, abs=0.02)
    assert feature.p_adjusted < 1e-20
    # the classifier sees a significant but small AUC, so it does not alarm on its own
    assert report.multivariate is not None and not report.multivariate["drifted"]
    # the same verdict from the raw reference
    raw = detect_drift(reference, window, DriftConfig(multivariate=False))
    assert raw.drifted == [target]


def test_the_domain_classifier_sees_a_new_correlation() -> None:
    """Same marginals, a new dependence: no feature drifts, the joint distribution does."""
    rng = np.random.default_rng(5)
    rows = 20_000
    reference = pd.DataFrame(rng.standard_normal((rows, 3)), columns=["a", "b", "c"])
    a, noise = rng.standard_normal(rows), rng.standard_normal(rows)
    current = pd.DataFrame(
        {"a": a, "b": 0.9 * a + np.sqrt(1 - 0.81) * noise, "c": rng.standard_normal(rows)}
    )
    for ref in (reference, ReferenceProfile.build(reference)):
        report = detect_drift(ref, current, DriftConfig())
        assert report.drifted == []
        assert report.multivariate is not None and report.multivariate["drifted"]
        assert report.multivariate["auc"] > 0.6 and report.alarm


def test_significance_alone_does_not_alarm() -> None:
    """Large samples make a tiny shift significant; the effect threshold keeps it quiet."""
    rng = np.random.default_rng(6)
    reference = pd.DataFrame({"x": rng.normal(size=400_000)})
    current = pd.DataFrame({"x": rng.normal(0.02, 1.0, size=400_000)})
    report = detect_drift(ReferenceProfile.build(reference), current, DriftConfig())
    feature = report.feature("x")
    assert feature.p_adjusted < 1e-6 and feature.effect < 0.05
    assert not feature.drifted and not report.alarm
