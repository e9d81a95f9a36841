"""Reweighted calibration: when a window's inputs move to where the model is right less often at
the same score, the stored calibrator overstates its accuracy; the held-out rows weighted like
the window give the window's own calibration back."""

from __future__ import annotations

import doctest
import json
from typing import Any

import numpy as np
import pandas as pd
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st
from sklearn.linear_model import LogisticRegression

from keel.domain.policy import Policy
from keel.errors import InvalidInput
from keel.monitoring import shift_weights as shift_module
from keel.monitoring.calibration_sample import CalibrationSample
from keel.monitoring.drift import ReferenceProfile
from keel.monitoring.estimation import Calibrator, estimate_performance, fit_calibration
from keel.monitoring.references import Reference
from keel.monitoring.shift_weights import shift_weights
from keel.monitoring.window_estimate import estimate_window

FEATURES = ["x0", "x1"]


def draw(
    rng: np.random.Generator, rows: int, shift: float = 0.0
) -> tuple[pd.DataFrame, np.ndarray]:
    """x1 moves nothing in the score (the model hardly uses it), but above 0.5 the label
    follows x0 far more loosely: a shift of x1 lowers accuracy at every score."""
    x = pd.DataFrame(
        {
            "x0": rng.normal(size=rows),
            "x1": rng.normal(shift, 1.0, rows),
            "colour": rng.choice(["red", "blue"], rows),
        }
    )
    strength = np.where(x["x1"] > 0.5, 0.4, 3.0)
    y = (rng.random(rows) < 1.0 / (1.0 + np.exp(-strength * x["x0"]))).astype(int)
    return x, y


@pytest.fixture(scope="module")
def setting() -> dict[str, object]:
    rng = np.random.default_rng(0)
    train_x, train_y = draw(rng, 4000)
    model = LogisticRegression().fit(train_x[FEATURES], train_y)
    held_x, held_y = draw(rng, 4000)
    prediction = model.predict(held_x[FEATURES])
    score = model.predict_proba(held_x[FEATURES])[:, 1]
    profile = ReferenceProfile.build(train_x)
    return {
        "model": model,
        "profile": profile,
        "calibrator": fit_calibration(held_y, prediction, score, [0, 1]),
        "sample": CalibrationSample.build(profile, held_x, held_y, prediction, score, [0, 1]),
    }


def window(setting: dict[str, object], seed: int, shift: float) -> tuple[pd.DataFrame, float]:
    """A window's rows as the log holds them (features, prediction, score) and its realized
    accuracy."""
    x, y = draw(np.random.default_rng(100 + seed), 2000, shift)
    model = setting["model"]
    assert isinstance(model, LogisticRegression)
    prediction = model.predict(x[FEATURES])
    rows = x.assign(prediction=prediction, score=model.predict_proba(x[FEATURES])[:, 1])
    return rows, float(np.mean(prediction == y))


def refitted_by(
    sample: CalibrationSample, rows: pd.DataFrame, profile: ReferenceProfile, seed: int = 0
) -> tuple[Calibrator | None, dict[str, Any]]:
    """The calibrator refitted under the chosen cap (None without one), and the shift found."""
    fits, found = sample.refits(rows, profile, [0, 1], seed=seed)
    return (fits[0] if fits else None), found


def reference_of(setting: dict[str, object]) -> Reference:
    """The version's reference as monitoring stores it: the profile, the calibrator and the
    held-out rows it learnt from."""
    sample, profile, calibrator = setting["sample"], setting["profile"], setting["calibrator"]
    assert isinstance(sample, CalibrationSample) and isinstance(profile, ReferenceProfile)
    assert isinstance(calibrator, Calibrator)
    return Reference(
        snapshot="train@1",
        task="classification",
        classes=[0, 1],
        features=["x0", "x1", "colour"],
        target="y",
        inputs=profile,
        outputs=None,
        labels=None,
        calibrator=calibrator,
        rows=4000,
        calibration_sample=sample,
    )


def test_the_module_example_runs() -> None:
    assert doctest.testmod(shift_module).failed == 0


def test_a_calm_window_gets_no_weights(setting: dict[str, object]) -> None:
    sample, profile = setting["sample"], setting["profile"]
    assert isinstance(sample, CalibrationSample) and isinstance(profile, ReferenceProfile)
    for seed in range(3):
        rows, _ = window(setting, seed, shift=0.0)
        refitted, found = refitted_by(sample, rows, profile, seed=seed)
        assert refitted is None
        assert found["weighted"] is False and found["domain_auc"] < 0.55


def test_a_shift_the_score_misses_is_estimated_from_the_reweighted_rows(
    setting: dict[str, object],
) -> None:
    """Five shifted windows: the stored map overstates accuracy by 0.08 to 0.12 and its band
    misses every time; the reweighted one is within 0.03 and its band holds the truth."""
    sample, profile = setting["sample"], setting["profile"]
    assert isinstance(sample, CalibrationSample) and isinstance(profile, ReferenceProfile)
    stored_errors, weighted_errors = [], []
    for seed in range(5):
        rows, realized = window(setting, seed, shift=1.0)
        prediction, score = rows["prediction"].to_numpy(), rows["score"].to_numpy()
        refitted, found = refitted_by(sample, rows, profile, seed=seed)
        assert refitted is not None and found["weighted"] is True
        assert 0.0 < found["effective_rows"] < sample.rows
        stored = estimate_performance(prediction, score, [0, 1], setting["calibrator"])  # type: ignore[arg-type]
        weighted = estimate_performance(prediction, score, [0, 1], refitted)
        stored_errors.append(stored.metrics["accuracy"] - realized)
        weighted_errors.append(weighted.metrics["accuracy"] - realized)
        low, high = weighted.bands["accuracy"]
        assert low <= realized <= high
    assert min(stored_errors) > 0.07
    assert max(map(abs, weighted_errors)) < 0.03


def test_estimate_window_reweights_only_a_shifted_window(setting: dict[str, object]) -> None:
    sample, profile = setting["sample"], setting["profile"]
    assert isinstance(sample, CalibrationSample) and isinstance(profile, ReferenceProfile)
    reference = reference_of(setting)
    rules = Policy.parse({}).monitoring.drift
    rows, realized = window(setting, 0, shift=1.0)
    calm = estimate_window(rows, reference, rules, shifted=False)
    moved = estimate_window(rows, reference, rules, shifted=True)
    assert "shift" not in calm
    assert moved["shift"]["weighted"] is True
    assert abs(moved["metrics"]["accuracy"] - realized) < abs(
        calm["metrics"]["accuracy"] - realized
    )
    assert moved["shift"]["stored_accuracy"] == calm["metrics"]["accuracy"]
    # the band spans both answers: the stored map's band and the refit's
    for name in ("accuracy", "precision", "recall", "f1", "roc_auc"):
        (low, high), (calm_low, calm_high) = moved["bands"][name], calm["bands"][name]
        assert low <= calm_low and calm_high <= high, name
        assert low <= moved["metrics"][name] <= high, name
    low, high = moved["bands"]["accuracy"]
    assert low <= realized <= high and not calm["bands"]["accuracy"][0] <= realized
    # ROC AUC keeps the stored map's estimate, and its band grows by the refit's
    assert moved["metrics"]["roc_auc"] == calm["metrics"]["roc_auc"]
    assert moved["bands"]["roc_auc"] != calm["bands"]["roc_auc"]
    # the whole reference, sample included, survives storage
    stored = Reference.from_dict(json.loads(json.dumps(reference.to_dict())))
    assert stored.calibration_sample is not None
    again = estimate_window(rows, stored, rules, shifted=True)
    assert again["metrics"] == moved["metrics"]


def test_no_weight_exceeds_the_cap_and_they_average_one() -> None:
    rng = np.random.default_rng(3)
    reference = rng.normal(size=(1000, 2))
    found = shift_weights(reference, rng.normal(2.0, 0.5, size=(500, 2)), caps=(3.0,))
    assert found.weights is not None and found.cap == 3.0
    assert found.weights.mean() == pytest.approx(1.0)
    assert found.weights.max() == pytest.approx(3.0)  # the cap binds ...
    assert np.sum(found.weights >= 3.0 - 1e-9) > 10  # ... on many rows


@settings(max_examples=20, deadline=None)
@given(
    shift=st.floats(0.0, 3.0),
    rows=st.integers(20, 300),
    seed=st.integers(0, 2**16),
    missing=st.floats(0.0, 0.5),
)
# clipping until the largest weight fitted stopped 3e-6 above the cap here (slow convergence)
@example(shift=0.5, rows=295, seed=147, missing=0.296875)
def test_weights_are_positive_finite_and_average_one(
    shift: float, rows: int, seed: int, missing: float
) -> None:
    rng = np.random.default_rng(seed)
    reference = rng.normal(size=(rows, 3))
    current = rng.normal(shift, 1.0, size=(rows, 3))
    reference[rng.random(reference.shape) < missing] = np.nan
    found = shift_weights(reference, current, seed=seed)
    assert 0.0 <= found.auc <= 1.0
    if found.weights is None:
        assert found.reason
        return
    assert np.isfinite(found.weights).all() and (found.weights > 0).all()
    assert found.weights.mean() == pytest.approx(1.0)
    assert found.cap in shift_module.CAPS
    assert found.weights.max() <= found.cap * (1.0 + 1e-6)
    # the loosest cap that keeps the weights worth a quarter of the rows, or the tightest
    assert found.effective_rows >= shift_module.MIN_SHARE * rows or found.cap == min(
        shift_module.CAPS
    )
    assert 1.0 <= found.effective_rows <= rows + 1e-9


def test_a_weight_of_two_is_a_row_counted_twice() -> None:
    rng = np.random.default_rng(5)
    score = rng.random(300)
    truth = (rng.random(300) < score).astype(int)
    prediction = (score >= 0.5).astype(int)
    weight = np.where(np.arange(300) % 3 == 0, 2.0, 1.0)
    twice = np.flatnonzero(weight == 2.0)
    weighted = fit_calibration(truth, prediction, score, [0, 1], resamples=0, sample_weight=weight)
    duplicated = fit_calibration(
        np.r_[truth, truth[twice]],
        np.r_[prediction, prediction[twice]],
        np.r_[score, score[twice]],
        [0, 1],
        resamples=0,
    )
    assert np.allclose(weighted.apply(score), duplicated.apply(score))


@pytest.mark.parametrize("weight", [[1.0, -1.0, 1.0], [1.0, np.nan, 1.0], [1.0, 1.0], ["a", 1, 1]])
def test_bad_weights_are_refused_by_name(weight: list[object]) -> None:
    with pytest.raises(InvalidInput, match="sample_weight"):
        fit_calibration([0, 1, 1], [0, 1, 0], [0.2, 0.7, 0.4], [0, 1], sample_weight=weight)


def test_the_sample_is_bounded_seeded_and_round_trips(setting: dict[str, object]) -> None:
    profile = setting["profile"]
    assert isinstance(profile, ReferenceProfile)
    x, y = draw(np.random.default_rng(9), 500)
    score = np.linspace(0.0, 1.0, 500)
    prediction = (score >= 0.5).astype(int)
    first = CalibrationSample.build(profile, x, y, prediction, score, [0, 1], rows=100)
    second = CalibrationSample.build(profile, x, y, prediction, score, [0, 1], rows=100)
    assert first.rows == 100 and np.array_equal(first.score, second.score)
    assert set(first.codes) == {"x0", "x1", "colour"}
    back = CalibrationSample.from_dict(json.loads(json.dumps(first.to_dict())))
    assert np.array_equal(back.score, first.score)
    assert np.array_equal(back.truth, first.truth)
    assert all(np.array_equal(back.codes[k], first.codes[k]) for k in first.codes)
    with pytest.raises(InvalidInput, match="calibration sample"):
        CalibrationSample.from_dict({"codes": {}, "score": first.to_dict()["score"]})
    broken = first.to_dict()
    broken["truth"] = CalibrationSample.build(
        profile, x, y, prediction, score, [0, 1], rows=50
    ).to_dict()["truth"]
    with pytest.raises(InvalidInput, match="differ in length"):
        CalibrationSample.from_dict(broken)


def test_a_window_missing_the_features_is_not_reweighted(setting: dict[str, object]) -> None:
    sample, profile = setting["sample"], setting["profile"]
    assert isinstance(sample, CalibrationSample) and isinstance(profile, ReferenceProfile)
    rows = pd.DataFrame({"prediction": [0, 1] * 50, "score": np.linspace(0, 1, 100)})
    refitted, found = refitted_by(sample, rows, profile)
    assert refitted is None and "none of the features" in found["reason"]


def test_a_tighter_cap_keeps_the_loosest_fit_for_the_band(setting: dict[str, object]) -> None:
    """A far shift needs a tight cap to keep the weights worth a quarter of the rows; the fit
    under the loosest cap comes back too, and the window's band spans it."""
    rng = np.random.default_rng(3)
    reference = rng.normal(size=(2000, 2))
    found = shift_weights(reference, rng.normal(2.5, 0.5, size=(1000, 2)))
    assert found.cap is not None and found.cap < shift_module.CAPS[0]
    assert found.loosest is not None
    assert found.loosest.max() == pytest.approx(shift_module.CAPS[0])

    sample, profile = setting["sample"], setting["profile"]
    assert isinstance(sample, CalibrationSample) and isinstance(profile, ReferenceProfile)
    rows, _ = window(setting, 7, shift=2.5)
    refits, shift = sample.refits(rows, profile, [0, 1], seed=7)
    assert len(refits) == 2 and shift["cap"] < shift_module.CAPS[0]
    reference = reference_of(setting)
    found_window = estimate_window(
        rows, reference, Policy.parse({}).monitoring.drift, shifted=True, seed=7
    )
    prediction, score = rows["prediction"].to_numpy(), rows["score"].to_numpy()
    chosen, loosest = (estimate_performance(prediction, score, [0, 1], r, seed=7) for r in refits)
    assert found_window["metrics"]["accuracy"] == chosen.metrics["accuracy"]
    low, high = found_window["bands"]["accuracy"]
    assert low <= min(chosen.bands["accuracy"][0], loosest.bands["accuracy"][0])
    assert high >= max(chosen.bands["accuracy"][1], loosest.bands["accuracy"][1])
