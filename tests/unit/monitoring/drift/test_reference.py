"""The reference profile: bounded, chunkable, stored as JSON and read back to the same verdicts."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from keel.monitoring.drift import (
    CategoricalSummary,
    DriftConfig,
    NumericSummary,
    ReferenceProfile,
    detect_drift,
)
from keel.monitoring.drift.reference import MISSING_CODE, _Reservoir
from keel.monitoring.drift.summary import QUANTUM, summarise_numeric

from ._data import mixed


def size_of(profile: ReferenceProfile) -> int:
    return len(json.dumps(profile.to_dict()))


def test_round_trip_gives_the_same_report() -> None:
    reference, current = mixed(20_000, seed=1), mixed(10_000, seed=2)
    current["x01"] *= 1.3
    profile = ReferenceProfile.build(reference, seed=3)
    stored = ReferenceProfile.from_dict(json.loads(json.dumps(profile.to_dict())))
    assert stored.to_dict() == profile.to_dict()
    config = DriftConfig(seed=4)
    first, second = detect_drift(profile, current, config), detect_drift(stored, current, config)
    assert first.to_dict() == second.to_dict()
    assert first.drifted == ["x01"]


@pytest.mark.slow
def test_json_size_does_not_grow_with_the_reference() -> None:
    small = ReferenceProfile.build(mixed(100_000, seed=5, numeric=20, categorical=5))
    large = ReferenceProfile.build(mixed(1_000_000, seed=6, numeric=20, categorical=5))
    assert large.rows == 10 * small.rows
    # counts are quantised to 65,536 (exact CDF to 7.6e-6); a bigger reference's smoother
    # histogram even compresses a little better
    assert 0.85 * size_of(small) <= size_of(large) <= 1.02 * size_of(small)
    assert size_of(large) < 400_000  # 25 columns, 4,096 bins each and a 5,000-row sample


def test_a_chunked_build_counts_every_row_once() -> None:
    frame = mixed(120_000, seed=7)
    frame.loc[::97, "x00"] = np.nan
    whole = ReferenceProfile.build(frame)
    chunked = ReferenceProfile.build(frame.iloc[i : i + 7_000] for i in range(0, len(frame), 7_000))
    assert chunked.rows == whole.rows == len(frame)
    for name, summary in whole.columns.items():
        other = chunked.columns[name]
        if isinstance(summary, NumericSummary):
            assert isinstance(other, NumericSummary)
            assert (other.rows, other.missing) == (summary.rows, summary.missing)
            assert other.counts.sum() == min(summary.rows, QUANTUM)  # stored quantised
            assert other.mean == pytest.approx(frame[name].mean(), rel=1e-9)
            assert other.std == pytest.approx(frame[name].std(ddof=0), rel=1e-9)
            assert (other.minimum, other.maximum) == (frame[name].min(), frame[name].max())
        else:
            assert isinstance(summary, CategoricalSummary)
            assert other.to_dict() == summary.to_dict()
    # the grids differ (the chunked one is fitted on the first 50,000 values), the verdicts not
    current = mixed(30_000, seed=8)
    current["x02"] += 0.2
    config = DriftConfig(multivariate=False)
    a, b = detect_drift(whole, current, config), detect_drift(chunked, current, config)
    assert a.drifted == b.drifted == ["x02"]
    for fa in a.features:
        assert b.feature(fa.feature).effect == pytest.approx(fa.effect, abs=0.005)


def test_stored_counts_keep_the_cdf_within_half_a_quantum() -> None:
    values = np.random.default_rng(11).lognormal(size=300_000)
    profile = ReferenceProfile.build(pd.DataFrame({"v": values}))
    stored = profile.columns["v"]
    assert isinstance(stored, NumericSummary) and stored.grid is not None
    exact = summarise_numeric(values, stored.grid)
    assert stored.counts.sum() == QUANTUM and stored.rows == exact.rows == values.size
    assert (stored.counts >= 0).all()
    gap = np.abs(np.cumsum(stored.counts) / QUANTUM - np.cumsum(exact.counts) / values.size)
    assert gap.max() <= 0.5 / QUANTUM + 1e-15
    small = ReferenceProfile.build(pd.DataFrame({"v": values[:QUANTUM]})).columns["v"]
    assert small.counts.sum() == QUANTUM  # up to QUANTUM values: exact counts


def test_the_reservoir_sample_is_uniform_over_chunks() -> None:
    reservoir = _Reservoir(2000, seed=0)
    picked = np.full(2000, -1)
    start = 0
    for size in [500, 3000, 1, 40_000, 56_499]:
        rows, slots = reservoir.offer(size)
        assert len(np.unique(slots)) == len(slots)
        picked[slots] = start + rows
        start += size
    assert (picked >= 0).all() and len(np.unique(picked)) == 2000
    assert stats.kstest(picked / start, "uniform").pvalue > 0.01


def test_the_sample_keeps_rows_together() -> None:
    """Every column's sample code comes from the same row: decoded values agree across columns."""
    frame = pd.DataFrame({"i": np.arange(10_000.0), "twice": np.arange(10_000.0) * 2})
    frame["half"] = np.where(frame["i"] < 5000, "low", "high")
    profile = ReferenceProfile.build(frame, sample_rows=300)
    matrix = profile.sample_matrix(["i", "twice", "half"])

    def decoded(name: str, codes: np.ndarray) -> np.ndarray:
        summary = profile.columns[name]
        assert isinstance(summary, NumericSummary) and summary.grid is not None
        return summary.grid.lo + (codes - 0.5) * summary.grid.width  # code 1 is the first bin

    i, twice = decoded("i", matrix[:, 0]), decoded("twice", matrix[:, 1])
    width = profile.columns["twice"].grid.width  # type: ignore[union-attr]
    inner = (matrix[:, 0] <= 4096) & (matrix[:, 1] <= 4096)  # overflow codes carry no value
    assert np.abs(twice - 2 * i)[inner].max() <= 2 * width
    halves = np.array(profile.columns["half"].categories)[matrix[:, 2].astype(int)]  # type: ignore[union-attr]
    clear = np.abs(i - 5000) > 10
    assert np.array_equal((halves == "low")[clear], (i < 5000)[clear])
    assert len(np.unique(matrix[:, 0])) > 250  # 300 distinct rows


def test_categories_beyond_the_limit_are_pooled_as_other() -> None:
    rng = np.random.default_rng(9)
    values = np.concatenate([rng.choice(["a", "b"], 9000), [f"rare{i}" for i in range(1000)]])
    profile = ReferenceProfile.build(pd.DataFrame({"c": values}), max_categories=10)
    summary = profile.columns["c"]
    assert isinstance(summary, CategoricalSummary)
    assert summary.categories[:2] == ("a", "b") or summary.categories[:2] == ("b", "a")
    assert len(summary.categories) == 10 and summary.rows == 10_000
    assert summary.other == 1000 - 8
    # rare values in a window cannot be told from the reference's pooled ones: no issue
    current = pd.DataFrame({"c": np.concatenate([rng.choice(["a", "b"], 900), ["rare5"] * 100])})
    report = detect_drift(profile, current, DriftConfig(multivariate=False))
    assert report.issues == [] and report.feature("c").stats["new_categories"] == 0


def test_kinds_override_the_type() -> None:
    frame = pd.DataFrame({"zip": np.random.default_rng(10).integers(1000, 1010, 5000)})
    profile = ReferenceProfile.build(frame, kinds={"zip": "categorical"})
    summary = profile.columns["zip"]
    assert isinstance(summary, CategoricalSummary) and summary.source == "numeric"
    assert len(summary.categories) == 10
    report = detect_drift(profile, frame.assign(zip=1000), DriftConfig(multivariate=False))
    assert report.drifted == ["zip"] and report.features[0].test == "chi2"


def test_missing_values_are_coded_as_missing_in_the_sample() -> None:
    frame = pd.DataFrame({"x": [1.0, np.nan] * 50, "c": ["a", None] * 50})
    profile = ReferenceProfile.build(frame, sample_rows=100)
    for name in ("x", "c"):
        assert (profile.sample[name] == MISSING_CODE).sum() == 50
    assert np.isnan(profile.sample_matrix(["x"])).sum() == 50


@pytest.mark.parametrize("offset", [0.0, 50.0, 1e4, 1.7e9])
def test_moments_stay_exact_far_from_zero(offset: float) -> None:
    values = offset + np.random.default_rng(12).normal(0.0, 3.0, 100_000)
    summary = ReferenceProfile.build(pd.DataFrame({"v": values})).columns["v"]
    assert isinstance(summary, NumericSummary)
    assert summary.mean == pytest.approx(values.mean(), rel=1e-12)
    assert summary.std == pytest.approx(values.std(), rel=1e-6)
