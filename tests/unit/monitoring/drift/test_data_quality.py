"""Bad input never crashes and never yields a silent NaN: a clear InvalidInput, or a reported
data-quality issue with the column skipped (or, for new categories and infinite values, tested)."""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest

from keel.errors import InvalidInput
from keel.monitoring.drift import (
    DriftConfig,
    DriftReport,
    ReferenceProfile,
    column_drift,
    detect_drift,
)

ROWS = 2000
Reference = ReferenceProfile | pd.DataFrame
NO_CLASSIFIER = DriftConfig(multivariate=False)


@pytest.fixture(scope="module")
def reference() -> pd.DataFrame:
    rng = np.random.default_rng(0)
    return pd.DataFrame(
        {
            "x": rng.normal(size=ROWS),
            "y": rng.normal(size=ROWS),
            "c": rng.choice(["a", "b", "c"], ROWS),
            "flag": rng.random(ROWS) < 0.3,
            "when": pd.date_range("2024-01-01", periods=ROWS, freq="h"),
        }
    )


@pytest.fixture(scope="module", params=["profile", "raw"])
def ref(request: pytest.FixtureRequest, reference: pd.DataFrame) -> ReferenceProfile | pd.DataFrame:
    return ReferenceProfile.build(reference) if request.param == "profile" else reference


def window(reference: pd.DataFrame, seed: int = 1, **changes: object) -> pd.DataFrame:
    """A fresh draw from the reference's distribution, with ``changes`` applied."""
    rng = np.random.default_rng(seed)
    frame = reference.sample(ROWS, replace=True, random_state=seed).reset_index(drop=True)
    frame["x"] = rng.normal(size=ROWS)
    for name, value in changes.items():
        if value is None:
            frame = frame.drop(columns=name)
        else:
            frame[name] = value
    return frame


def codes(report: DriftReport) -> dict[str | None, set[str]]:
    found: dict[str | None, set[str]] = {}
    for issue in report.issues:
        found.setdefault(issue["column"], set()).add(issue["code"])
        assert issue["problem"]
    return found


def assert_json_safe(report: DriftReport) -> None:
    text = json.dumps(report.to_dict(), allow_nan=False)
    for feature in report.features:
        for name in ("statistic", "p_value", "p_adjusted", "effect", "psi"):
            assert math.isfinite(getattr(feature, name)), (feature.feature, name)
    assert DriftReport.from_dict(json.loads(text)).to_dict() == report.to_dict()


def test_a_missing_column_is_reported_and_the_rest_tested(
    ref: Reference, reference: pd.DataFrame
) -> None:
    report = detect_drift(ref, window(reference, y=None), NO_CLASSIFIER)
    assert codes(report) == {"y": {"missing_column"}}
    assert {f.feature for f in report.features} == {"x", "c", "flag", "when"}
    assert_json_safe(report)


def test_new_categories_are_reported_and_counted_as_their_own_bucket(
    ref: Reference, reference: pd.DataFrame
) -> None:
    rng = np.random.default_rng(2)
    values = np.where(rng.random(ROWS) < 0.08, "brand-new", rng.choice(["a", "b", "c"], ROWS))
    report = detect_drift(ref, window(reference, c=values), NO_CLASSIFIER)
    assert codes(report) == {"c": {"new_categories"}}
    (issue,) = report.issues
    assert issue["categories"] == ["brand-new"]
    assert issue["share"] == pytest.approx(np.mean(values == "brand-new"))
    feature = report.feature("c")
    assert feature.drifted and report.drifted == ["c"]
    assert feature.stats["new_categories"] == 1
    assert feature.stats["dof"] == 3  # a, b, c and the new one
    assert "brand-new" in feature.histogram["categories"]


def test_all_missing_columns_are_reported(ref: Reference, reference: pd.DataFrame) -> None:
    changed = window(reference, y=np.full(ROWS, np.nan), c=pd.Series([None] * ROWS, dtype=object))
    report = detect_drift(ref, changed, NO_CLASSIFIER)
    assert codes(report) == {"y": {"all_missing"}, "c": {"all_missing"}}
    assert_json_safe(report)


def test_a_reference_without_values_is_reported(reference: pd.DataFrame) -> None:
    empty = reference.assign(y=np.nan)
    for ref in (empty, ReferenceProfile.build(empty)):
        report = detect_drift(ref, window(reference), NO_CLASSIFIER)
        assert codes(report) == {"y": {"no_reference_values"}}


def test_an_empty_window_is_invalid(ref: Reference, reference: pd.DataFrame) -> None:
    with pytest.raises(InvalidInput) as raised:
        detect_drift(ref, reference.iloc[:0])
    assert raised.value.field == "current"


@pytest.mark.parametrize("bad", ["text", None, [1, 2], pd.Series([1.0])])
def test_a_window_that_is_not_a_frame_is_invalid(ref: Reference, bad: object) -> None:
    with pytest.raises(InvalidInput):
        detect_drift(ref, bad)


def test_a_reference_of_another_schema_is_reported(ref: Reference, reference: pd.DataFrame) -> None:
    swapped = window(reference, x=np.array(["text"] * ROWS, dtype=object), c=np.arange(ROWS) * 1.0)
    report = detect_drift(ref, swapped, DriftConfig())
    assert codes(report) == {"x": {"type_mismatch"}, "c": {"type_mismatch"}}
    assert "numeric in the reference" in report.issues[0]["problem"]
    assert {f.feature for f in report.features} == {"y", "flag", "when"}
    assert report.multivariate is not None
    assert report.multivariate["features"] == ["y", "flag", "when"]
    assert_json_safe(report)


def test_numbers_stored_as_objects_are_read_as_numbers(
    ref: Reference, reference: pd.DataFrame
) -> None:
    as_objects = window(reference, x=np.random.default_rng(3).normal(size=ROWS).astype(object))
    report = detect_drift(ref, as_objects, NO_CLASSIFIER)
    assert report.issues == [] and not report.drifted


def test_infinite_values_are_reported_and_left_out(ref: Reference, reference: pd.DataFrame) -> None:
    values = np.random.default_rng(4).normal(size=ROWS)
    values[:5], values[5:8] = np.inf, -np.inf
    report = detect_drift(ref, window(reference, x=values), DriftConfig())
    assert codes(report) == {"x": {"infinite_values"}}
    assert report.issues[0]["count"] == 8
    feature = report.feature("x")
    assert feature.rows == ROWS - 8 and not feature.drifted
    assert feature.missing_share == pytest.approx(8 / ROWS)
    assert_json_safe(report)


def test_a_constant_reference_column_is_tested_without_nan() -> None:
    reference = pd.DataFrame({"k": np.full(500, 3.0), "one": ["a"] * 500})
    for current, drifted in ((reference, []), (reference.assign(k=4.0, one="b"), ["k", "one"])):
        for ref in (reference, ReferenceProfile.build(reference)):
            report = detect_drift(ref, current, NO_CLASSIFIER)
            assert sorted(report.drifted) == drifted
            assert_json_safe(report)


def test_features_the_reference_lacks_are_invalid(ref: Reference, reference: pd.DataFrame) -> None:
    with pytest.raises(InvalidInput) as raised:
        detect_drift(ref, window(reference), DriftConfig(features=("x", "nope")))
    assert raised.value.field == "features" and "nope" in raised.value.problem


@pytest.mark.parametrize(
    "settings",
    [{"alpha": 0}, {"alpha": 1.5}, {"numeric_effect": -1}, {"domain_auc": 0.4}, {"folds": 1}],
)
def test_out_of_range_settings_are_invalid(settings: dict[str, float]) -> None:
    with pytest.raises(InvalidInput):
        DriftConfig(**settings)


def test_column_drift_refuses_what_it_cannot_test() -> None:
    with pytest.raises(InvalidInput, match="missing"):
        column_drift(np.arange(10.0), np.full(10, np.nan), name="score")
    with pytest.raises(InvalidInput, match="no values"):
        column_drift(np.arange(10.0), [], name="score")
    with pytest.raises(InvalidInput, match="numeric in the reference"):
        column_drift(np.arange(10.0), np.array(["a"] * 10), name="score")


@pytest.mark.parametrize(
    "data",
    [
        {},
        {"format": "keel.drift.reference", "version": 99},
        {"format": "keel.drift.reference", "version": 1, "columns": {"x": {"kind": "numeric"}}},
        {"format": "something else"},
    ],
)
def test_a_malformed_profile_is_invalid(data: dict[str, object]) -> None:
    with pytest.raises(InvalidInput) as raised:
        ReferenceProfile.from_dict(data)
    assert raised.value.field == "profile"


def test_building_from_nothing_is_invalid() -> None:
    with pytest.raises(InvalidInput):
        ReferenceProfile.build(pd.DataFrame({"x": []}))
    with pytest.raises(InvalidInput):
        ReferenceProfile.build([])
    with pytest.raises(InvalidInput, match="lacks"):
        ReferenceProfile.build([pd.DataFrame({"x": [1.0]}), pd.DataFrame({"y": [1.0]})])
    with pytest.raises(InvalidInput, match="not numeric"):
        ReferenceProfile.build([pd.DataFrame({"x": [1.0]}), pd.DataFrame({"x": ["text"]})])
    with pytest.raises(InvalidInput, match="kinds"):
        ReferenceProfile.build(pd.DataFrame({"x": [1.0]}), kinds={"x": "ordinal"})  # type: ignore[dict-item]


def test_unusable_column_names_are_invalid() -> None:
    numbered = pd.DataFrame(np.ones((10, 2)))
    with pytest.raises(InvalidInput, match="text"):
        ReferenceProfile.build(numbered)
    with pytest.raises(InvalidInput, match="text"):
        detect_drift(numbered, numbered)
    twice = pd.DataFrame([[1.0, 2.0]] * 10, columns=["x", "x"])
    with pytest.raises(InvalidInput, match="distinct"):
        ReferenceProfile.build(twice)
    profile = ReferenceProfile.build(pd.DataFrame({"x": np.arange(10.0)}))
    with pytest.raises(InvalidInput, match="more than one column"):
        detect_drift(profile, twice)
