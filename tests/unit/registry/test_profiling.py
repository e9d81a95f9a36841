"""Column profiles: bounded summaries whose numbers always make sense together."""

from __future__ import annotations

import json
import math
from typing import Any

import numpy as np
import pandas as pd
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from keel.registry.profiling import (
    HISTOGRAM_BINS,
    MAX_CATEGORIES,
    QUANTILES,
    TOP_CATEGORIES,
    column_kind,
    profile_column,
    profile_frame,
    schema_of,
)


@pytest.mark.parametrize(
    ("series", "kind"),
    [
        (pd.Series([1.0, 2.5]), "number"),
        (pd.Series([1, 2]), "integer"),
        (pd.Series([1, None], dtype="Int64"), "integer"),
        (pd.Series([True, False]), "boolean"),
        (pd.Series(["a", "b"]), "category"),
        (pd.Series(["a", "b"], dtype="category"), "category"),
        (pd.Series(["a", 1], dtype=object), "category"),
        (pd.Series(pd.to_datetime(["2026-01-01", "2026-02-01"])), "datetime"),
        (pd.Series([pd.Timedelta(1, "s")]), "other"),
    ],
)
def test_column_kind(series: pd.Series, kind: str) -> None:
    assert column_kind(series) == kind


def check_numeric(profile: dict[str, Any], values: list[float]) -> None:
    finite = [v for v in values if v is not None and math.isfinite(v)]
    assert 0.0 <= profile["missing_share"] <= 1.0
    assert profile["count"] == len(finite)
    if not finite:
        return
    assert profile["min"] == min(finite)
    assert profile["max"] == max(finite)
    quantiles = [profile["quantiles"][str(q)] for q in QUANTILES]
    assert quantiles == sorted(quantiles), "quantiles must not decrease"
    assert profile["min"] <= quantiles[0]
    assert quantiles[-1] <= profile["max"]
    slack = 1e-12 * max(abs(profile["min"]), abs(profile["max"]))  # the mean is rounded
    assert profile["min"] - slack <= profile["mean"] <= profile["max"] + slack
    assert profile["std"] >= 0.0
    histogram = profile["histogram"]
    assert sum(histogram["counts"]) == len(finite)
    assert len(histogram["edges"]) == len(histogram["counts"]) + 1
    assert histogram["edges"] == sorted(histogram["edges"])


floats = st.one_of(
    st.floats(min_value=-1e100, max_value=1e100, allow_nan=False),
    st.sampled_from([math.nan, math.inf, -math.inf, 0.0, 1e17, -1e17]),
)


@settings(deadline=None)
@given(st.lists(floats, max_size=60))
@example([1e17, 1e17, 1e17])
@example([1e20, 1e20 + 2**20])
@example([5e-324, 0.0])
@example([math.nan, math.nan])
@example([])
def test_numeric_profiles_are_consistent(values: list[float]) -> None:
    series = pd.Series(values, dtype="float64")
    profile = profile_column(series)
    assert profile["kind"] == "number"
    missing = sum(1 for v in values if math.isnan(v))
    assert profile["missing_share"] == (missing / len(values) if values else 0.0)
    check_numeric(profile, values)
    json.dumps(profile, allow_nan=False)  # storable in any JSON column


@settings(deadline=None)
@given(st.lists(st.one_of(st.none(), st.integers(-(2**62), 2**62)), max_size=60))
@example([1_700_000_000_000_000_000] * 3)
def test_integer_profiles_are_consistent(values: list[int | None]) -> None:
    series = pd.Series(values, dtype="Int64")
    profile = profile_column(series)
    assert profile["kind"] == "integer"
    check_numeric(profile, [float(v) if v is not None else math.nan for v in values])
    json.dumps(profile, allow_nan=False)


@settings(deadline=None)
@given(st.lists(st.one_of(st.none(), st.sampled_from("abcdefgh"), st.text(max_size=3))))
def test_category_profiles_are_consistent(values: list[str | None]) -> None:
    series = pd.Series(values, dtype="object")
    profile = profile_column(series)
    assert profile["kind"] == "category"
    present = [v for v in values if v is not None]
    assert 0.0 <= profile["missing_share"] <= 1.0
    assert profile["count"] == len(present)
    assert profile["n_unique"] == len(set(present))
    shares = profile["categories"]
    assert all(0.0 < s <= 1.0 for s in shares.values())
    if profile["complete"] and present:
        assert sum(shares.values()) == pytest.approx(1.0)
    top = [t["share"] for t in profile["top"]]
    assert top == sorted(top, reverse=True)
    assert len(top) <= TOP_CATEGORIES
    json.dumps(profile, allow_nan=False)


def test_many_categories_keep_the_most_frequent_and_say_incomplete() -> None:
    values = [f"v{i}" for i in range(MAX_CATEGORIES + 50)] + ["common"] * 100
    profile = profile_column(pd.Series(values))
    assert profile["complete"] is False
    assert profile["n_unique"] == MAX_CATEGORIES + 51
    assert len(profile["categories"]) == MAX_CATEGORIES
    assert profile["top"][0] == {"value": "common", "share": pytest.approx(100 / len(values))}
    assert sum(profile["categories"].values()) < 1.0


def test_boolean_and_datetime_profiles() -> None:
    booleans = profile_column(pd.Series([True, True, False, None], dtype="boolean"))
    assert booleans["kind"] == "boolean"
    assert booleans["true_share"] == pytest.approx(2 / 3)
    assert booleans["missing_share"] == 0.25
    times = profile_column(pd.Series(pd.to_datetime(["2026-03-01", None, "2026-01-01"])))
    assert times["kind"] == "datetime"
    assert times["min"].startswith("2026-01-01")
    assert times["max"].startswith("2026-03-01")
    assert times["count"] == 2


def test_histogram_has_fixed_size_whatever_the_rows() -> None:
    rng = np.random.default_rng(0)
    small = profile_column(pd.Series(rng.normal(size=50)))
    large = profile_column(pd.Series(rng.normal(size=50_000)))
    assert len(small["histogram"]["counts"]) == len(large["histogram"]["counts"]) == HISTOGRAM_BINS
    assert large["quantiles"]["0.5"] == pytest.approx(0.0, abs=0.05)
    assert large["std"] == pytest.approx(1.0, abs=0.05)


def test_profile_frame_and_schema(cancer_frame: pd.DataFrame) -> None:
    profile = profile_frame(cancer_frame)
    assert profile["rows"] == len(cancer_frame)
    assert list(profile["columns"]) == list(cancer_frame.columns)
    assert profile["columns"]["target"]["kind"] == "integer"
    assert profile["columns"]["mean radius"]["min"] == cancer_frame["mean radius"].min()
    schema = schema_of(cancer_frame)
    assert schema["target"] == "int64"
    assert schema["mean radius"] == "float64"
