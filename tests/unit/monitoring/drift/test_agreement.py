"""Every raw-data statistic against SciPy (or the direct formula) on the same data, to 1e-9;
the profile-based statistics against the raw ones within their documented bounds."""

from __future__ import annotations

import doctest
import importlib
import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats
from scipy.spatial.distance import jensenshannon

from keel.monitoring.drift import DriftConfig, ReferenceProfile, column_drift, detect_drift
from keel.monitoring.drift.chisquare import chi_square
from keel.monitoring.drift.jensen_shannon import jensen_shannon
from keel.monitoring.drift.ks import EXACT_LIMIT, ks_binned, ks_p_value, ks_test
from keel.monitoring.drift.multiple_testing import benjamini_hochberg
from keel.monitoring.drift.psi import EPSILON, bin_counts, psi, psi_numeric, quantile_edges
from keel.monitoring.drift.summary import Grid
from keel.monitoring.drift.wasserstein import wasserstein, wasserstein_weighted

from ._data import categories, mixed

TOLERANCE = {"rel": 1e-9, "abs": 1e-12}

SAMPLES = {
    "normal vs shifted": lambda rng: (rng.normal(size=800), rng.normal(0.3, 1.0, size=600)),
    "identical": lambda rng: (np.arange(50.0), np.arange(50.0)),
    "ties": lambda rng: (rng.integers(0, 5, 300).astype(float), rng.integers(0, 6, 200) * 1.0),
    "tiny": lambda rng: (np.array([1.0]), np.array([2.0, 3.0])),
    "large": lambda rng: (rng.normal(size=20_000), rng.standard_t(5, size=30_000)),
    "scale": lambda rng: (rng.normal(size=5000), rng.normal(0, 1.1, size=5000)),
}


@pytest.mark.parametrize("name", SAMPLES)
def test_ks_equals_scipy_asymptotic(name: str) -> None:
    reference, current = SAMPLES[name](np.random.default_rng(1))
    ours = ks_test(reference, current)
    theirs = stats.ks_2samp(reference, current, method="asymp")
    assert ours.statistic == pytest.approx(float(theirs.statistic), **TOLERANCE)
    assert ours.p_value == pytest.approx(float(theirs.pvalue), **TOLERANCE)


@pytest.mark.parametrize("name", SAMPLES)
def test_wasserstein_equals_scipy(name: str) -> None:
    reference, current = SAMPLES[name](np.random.default_rng(2))
    assert wasserstein(reference, current) == pytest.approx(
        stats.wasserstein_distance(reference, current), **TOLERANCE
    )


def test_weighted_wasserstein_equals_scipy() -> None:
    rng = np.random.default_rng(3)
    positions = np.sort(rng.normal(size=300))
    ref, cur = rng.integers(0, 50, 300), rng.integers(0, 50, 300)
    ref[:10] = 0  # zero weights are allowed
    expected = stats.wasserstein_distance(positions, positions, ref, cur)
    assert wasserstein_weighted(positions, ref, cur) == pytest.approx(expected, **TOLERANCE)


def crosstab(reference: np.ndarray, current: np.ndarray) -> np.ndarray:
    """The 2 x K table of the two samples, built by pandas, independently of Keel."""
    labels = np.r_[np.zeros(len(reference)), np.ones(len(current))]
    return pd.crosstab(labels, np.r_[reference, current]).to_numpy()


@pytest.mark.parametrize("shift", [False, True])
def test_chi_square_and_cramers_v_equal_scipy(shift: bool) -> None:
    reference = categories(3000, seed=4)
    current = categories(
        2000, seed=5, shares=np.array([0.3, 0.3, 0.2, 0.1, 0.1]) if shift else None
    )
    table = crosstab(reference, current)
    theirs = stats.chi2_contingency(table, correction=False)
    ours = chi_square(table[0], table[1])
    assert ours.statistic == pytest.approx(theirs.statistic, **TOLERANCE)
    assert ours.p_value == pytest.approx(theirs.pvalue, **TOLERANCE)
    assert ours.dof == theirs.dof
    cramer = stats.contingency.association(table, method="cramer", correction=False)
    assert ours.cramers_v == pytest.approx(cramer, **TOLERANCE)


def test_two_categories_are_not_yates_corrected() -> None:
    table = np.array([[30, 70], [45, 55]])
    theirs = stats.chi2_contingency(table, correction=False)
    assert chi_square(table[0], table[1]).statistic == pytest.approx(theirs.statistic, **TOLERANCE)
    assert stats.chi2_contingency(table).statistic != pytest.approx(theirs.statistic)


def test_jensen_shannon_equals_scipy() -> None:
    rng = np.random.default_rng(6)
    for size in (2, 5, 40):
        p, q = rng.integers(0, 100, size), rng.integers(1, 100, size)
        expected = jensenshannon(p, q, base=2)
        assert jensen_shannon(p, q) == pytest.approx(expected, **TOLERANCE)


def test_psi_equals_the_direct_formula() -> None:
    rng = np.random.default_rng(7)
    reference, current = rng.normal(size=4000), rng.normal(0.2, 1.2, size=3000)
    edges = np.quantile(reference, np.arange(1, 10) / 10)
    e = np.array([np.sum(np.searchsorted(edges, reference, side="right") == i) for i in range(10)])
    a = np.array([np.sum(np.searchsorted(edges, current, side="right") == i) for i in range(10)])
    e_share, a_share = np.maximum(e / e.sum(), EPSILON), np.maximum(a / a.sum(), EPSILON)
    direct = float(np.sum((a_share - e_share) * np.log(a_share / e_share)))
    assert psi_numeric(reference, current) == pytest.approx(direct, **TOLERANCE)
    assert np.array_equal(quantile_edges(reference), edges)
    assert bin_counts(current, edges).tolist() == a.tolist()


def test_psi_gives_an_empty_bin_epsilon() -> None:
    value = psi(np.array([100, 0]), np.array([50, 50]))
    expected = (0.5 - 1.0) * math.log(0.5 / 1.0) + (0.5 - EPSILON) * math.log(0.5 / EPSILON)
    assert value == pytest.approx(expected, **TOLERANCE)


def test_benjamini_hochberg_equals_the_step_up_formula() -> None:
    p = np.random.default_rng(8).uniform(size=25) ** 3
    order = np.argsort(p)
    k = p.size
    ranked = p[order] * k / np.arange(1, k + 1)
    stepped = np.minimum.accumulate(ranked[::-1])[::-1].clip(max=1.0)
    expected = np.empty(k)
    expected[order] = stepped
    np.testing.assert_allclose(benjamini_hochberg(p), expected, rtol=1e-12)
    assert benjamini_hochberg([]).size == 0


def test_raw_reference_report_equals_scipy_per_feature() -> None:
    reference, current = mixed(3000, seed=1), mixed(2500, seed=2)
    current["x00"] += 0.3
    report = detect_drift(reference, current, DriftConfig(multivariate=False))
    for feature in report.features:
        ref, cur = reference[feature.feature].to_numpy(), current[feature.feature].to_numpy()
        if feature.kind == "numeric":
            ks = stats.ks_2samp(ref, cur, method="asymp")
            assert feature.statistic == pytest.approx(ks.statistic, **TOLERANCE)
            assert feature.p_value == pytest.approx(ks.pvalue, **TOLERANCE)
            w = stats.wasserstein_distance(ref, cur)
            assert feature.stats["wasserstein"] == pytest.approx(w, **TOLERANCE)
            assert feature.effect == pytest.approx(w / ref.std(), **TOLERANCE)
        else:
            table = crosstab(ref, cur)
            chi = stats.chi2_contingency(table, correction=False)
            assert feature.statistic == pytest.approx(chi.statistic, **TOLERANCE)
            assert feature.p_value == pytest.approx(chi.pvalue, **TOLERANCE)
            assert feature.effect == pytest.approx(jensenshannon(*table, base=2), **TOLERANCE)
    assert report.drifted == ["x00"]


def test_profile_ks_and_wasserstein_stay_within_their_bounds() -> None:
    rng = np.random.default_rng(9)
    reference = pd.DataFrame({"x": rng.normal(size=50_000), "y": rng.exponential(size=50_000)})
    profile = ReferenceProfile.build(reference)
    for shift in (0.0, 0.05, 0.3):
        current = pd.DataFrame(
            {"x": rng.normal(shift, 1.0, 40_000), "y": rng.exponential(1 + shift, 40_000)}
        )
        for name in ("x", "y"):
            binned = column_drift(profile.columns[name], current[name], name=name)
            raw = column_drift(reference[name], current[name], name=name)
            # edges are a subset of the raw CDFs' points: D_binned <= D_raw, short by at most
            # the largest bin mass held by both sides
            assert binned.statistic <= raw.statistic + 1e-12
            assert raw.statistic - binned.statistic <= binned.stats["ks_resolution"] + 1e-12
            # every value moves at most half a bin; beyond the grid, to its tail's mean
            tails = _tail_spread(reference[name], current[name], profile.columns[name].grid)
            gap = abs(binned.stats["wasserstein"] - raw.stats["wasserstein"])
            assert gap <= binned.stats["bin_width"] + tails
            assert binned.p_value == pytest.approx(raw.p_value, rel=0.3, abs=1e-3)
            assert binned.psi == pytest.approx(raw.psi, rel=0.1, abs=2e-3)


def _tail_spread(reference: pd.Series, current: pd.Series, grid: Grid | None) -> float:
    """The W1 bound of moving each side's out-of-grid values to their mean."""
    assert grid is not None
    total = 0.0
    for values in (reference.to_numpy(), current.to_numpy()):
        for tail in (values[values < grid.lo], values[values >= grid.hi]):
            if tail.size:
                total += np.abs(tail - tail.mean()).sum() / values.size
    return total


def test_profile_chi_square_is_exact_when_every_category_is_kept() -> None:
    reference = pd.DataFrame({"c": categories(5000, seed=10)})
    current = pd.Series(categories(4000, seed=11, shares=np.array([0.3, 0.3, 0.2, 0.1, 0.1])))
    profile = ReferenceProfile.build(reference)
    binned = column_drift(profile.columns["c"], current, name="c")
    table = crosstab(reference["c"].to_numpy(), current.to_numpy())
    chi = stats.chi2_contingency(table, correction=False)
    assert binned.statistic == pytest.approx(chi.statistic, **TOLERANCE)
    assert binned.p_value == pytest.approx(chi.pvalue, **TOLERANCE)
    assert binned.effect == pytest.approx(jensenshannon(*table, base=2), **TOLERANCE)


def test_binned_ks_on_exact_bins_equals_scipy() -> None:
    """Integer data on unit bins: every value sits on its own bin, so nothing is lost."""
    rng = np.random.default_rng(12)
    reference, current = rng.integers(0, 10, 500), rng.integers(0, 12, 700)
    ours = ks_binned(
        np.bincount(reference, minlength=12), np.bincount(current, minlength=12), "kstwo"
    )
    theirs = stats.ks_2samp(reference, current, method="asymp")
    assert ours.statistic == pytest.approx(theirs.statistic, **TOLERANCE)
    assert ours.p_value == pytest.approx(theirs.pvalue, **TOLERANCE)


@pytest.mark.parametrize("size", [EXACT_LIMIT + 1, 50_000, 500_000])
def test_asymptotic_ks_p_value_is_close_above_the_limit(size: int) -> None:
    for p in (0.5, 0.05, 0.01, 1e-3, 1e-6):
        d = float(stats.kstwobign.isf(p)) / math.sqrt(size)
        fast, method = ks_p_value(d, 2 * size, 2 * size, "auto")
        assert method == "kstwobign"
        expected = float(stats.kstwo.sf(d, size))
        assert fast == pytest.approx(expected, rel=0.025 if size < 200_000 else 0.005)


MODULES = [
    "_arrays",
    "_frames",
    "chisquare",
    "columns",
    "detector",
    "domain_classifier",
    "jensen_shannon",
    "ks",
    "multiple_testing",
    "overlay",
    "psi",
    "reference",
    "results",
    "summary",
    "wasserstein",
]


@pytest.mark.parametrize("module", MODULES)
def test_docstring_examples_run(module: str) -> None:
    loaded = importlib.import_module(f"keel.monitoring.drift.{module}")
    assert loaded.__doc__ and len(loaded.__doc__) > 200
    result = doctest.testmod(loaded, optionflags=doctest.ELLIPSIS)
    assert result.failed == 0
