"""CBPE: bands cover the realised metrics, calibration repairs miscalibrated scores, the
expected confusion matrix and AUC are what their formulas say."""

from __future__ import annotations

import doctest
import itertools
import json
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.isotonic import IsotonicRegression
from sklearn.metrics import roc_auc_score

from keel.domain.policy import CLASSIFICATION_METRICS
from keel.errors import InvalidInput
from keel.evaluation.metrics import classification_metrics
from keel.monitoring import estimation
from keel.monitoring.estimation import (
    Calibrator,
    PerformanceEstimate,
    estimate_performance,
    fit_calibration,
)

ESTIMATED = ("accuracy", "precision", "recall", "f1", "roc_auc")


def realised(y: np.ndarray, pred: np.ndarray, p1: np.ndarray) -> dict[str, float]:
    """The labelled metrics, by the one definition Keel evaluates with."""
    values = classification_metrics(y, pred, np.column_stack([1 - p1, p1]), [0, 1], ESTIMATED)
    return {name: values[name] for name in ESTIMATED}


def overconfident(p: np.ndarray, power: float = 3.0) -> np.ndarray:
    """Scores pushed towards 0 and 1: the logit of the true probability times ``power``."""
    return 1 / (1 + np.exp(-power * np.log(p / (1 - p))))


def test_the_module_example_runs() -> None:
    assert doctest.testmod(estimation).failed == 0


def test_metric_names_are_keels() -> None:
    assert set(estimation.BINARY_METRICS) <= set(CLASSIFICATION_METRICS)
    assert set(estimation.MULTICLASS_METRICS) <= set(CLASSIFICATION_METRICS)


def test_bands_cover_the_realised_metrics_about_95_percent_of_the_time() -> None:
    """200 seeded windows whose labels are drawn from calibrated scores: each 95 % band holds
    the window's realised metric in roughly 95 % of them."""
    covered = dict.fromkeys(ESTIMATED, 0)
    repetitions = 200
    for seed in range(repetitions):
        rng = np.random.default_rng(seed)
        p = rng.beta(2, 3, 500)
        pred = (p >= 0.5).astype(int)
        y = (rng.random(500) < p).astype(int)
        estimate = estimate_performance(pred, p, [0, 1], seed=seed)
        for name, value in realised(y, pred, p).items():
            low, high = estimate.bands[name]
            covered[name] += low <= value <= high
    coverage = {name: hits / repetitions for name, hits in covered.items()}
    assert all(0.90 <= share <= 0.99 for share in coverage.values()), coverage


def test_isotonic_calibration_repairs_overconfident_scores() -> None:
    rng = np.random.default_rng(42)
    n = 20_000
    truth = rng.beta(2, 2, 2 * n)  # the real P(class 1) of each row
    y = (rng.random(2 * n) < truth).astype(int)
    score = overconfident(truth)
    pred = (score >= 0.5).astype(int)
    reference, window = slice(0, n), slice(n, 2 * n)
    calibrator = fit_calibration(y[reference], pred[reference], score[reference], [0, 1])
    actual = realised(y[window], pred[window], score[window])
    raw = estimate_performance(pred[window], score[window], [0, 1])
    fixed = estimate_performance(pred[window], score[window], [0, 1], calibrator)
    assert fixed.calibrated and not raw.calibrated
    assert abs(fixed.metrics["accuracy"] - actual["accuracy"]) < 0.01
    assert abs(raw.metrics["accuracy"] - actual["accuracy"]) > 0.05
    for name in ("precision", "recall", "f1", "roc_auc"):
        assert abs(fixed.metrics[name] - actual[name]) < 0.015, name


def test_multiclass_accuracy_from_top_class_confidence() -> None:
    """Three classes, an overconfident model (tempered softmax): the raw confidence overstates
    the accuracy, the calibrated one matches it; labels drawn from the true probabilities."""
    rng = np.random.default_rng(3)
    n, classes = 20_000, ["cat", "dog", "eel"]
    logits = rng.normal(0, 1.5, (2 * n, 3))
    truth = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    model = np.exp(2.5 * logits) / np.exp(2.5 * logits).sum(axis=1, keepdims=True)
    y = np.array(classes)[(rng.random((2 * n, 1)) > truth.cumsum(axis=1)).sum(axis=1)]
    pred = np.array(classes)[model.argmax(axis=1)]
    top = model.max(axis=1)
    calibrator = fit_calibration(y[:n], pred[:n], top[:n], classes)
    assert calibrator.task == "multiclass"
    actual = float(np.mean(y[n:] == pred[n:]))
    raw = estimate_performance(pred[n:], top[n:], classes)
    fixed = estimate_performance(pred[n:], top[n:], classes, calibrator)
    assert set(fixed.metrics) == {"accuracy"} and fixed.confusion_matrix is None
    assert abs(fixed.metrics["accuracy"] - actual) < 0.01
    assert raw.metrics["accuracy"] - actual > 0.05
    low, high = fixed.bands["accuracy"]
    assert low < fixed.metrics["accuracy"] < high


def test_certain_probabilities_give_the_realised_metrics_exactly() -> None:
    """When the calibrated probabilities are 0 or 1 the labels are known: the estimate is the
    realised value, bands shrink to it; predictions need not follow the scores."""
    rng = np.random.default_rng(9)
    score = np.where(rng.random(400) < 0.5, rng.uniform(0, 0.3, 400), rng.uniform(0.7, 1, 400))
    score = np.round(score, 2)
    calibrator = Calibrator("binary", (0, 1), (0.3, 0.7), (0.0, 1.0), reference_rows=100)
    y = (score >= 0.7).astype(int)
    pred = np.where(rng.random(400) < 0.8, y, 1 - y)
    estimate = estimate_performance(pred, score, [0, 1], calibrator)
    for name, value in realised(y, pred, score).items():
        assert estimate.metrics[name] == pytest.approx(value, abs=1e-12), name
        assert estimate.bands[name] == pytest.approx((value, value), abs=1e-12), name


def brute_force_auc(score: np.ndarray, p: np.ndarray) -> float:
    ranked = pairs = 0.0
    for i, j in itertools.permutations(range(len(p)), 2):
        weight = p[i] * (1 - p[j])
        pairs += weight
        ranked += weight * (1.0 if score[i] > score[j] else 0.5 if score[i] == score[j] else 0.0)
    return ranked / pairs


pairs_of_rows = st.lists(
    # no subnormal probabilities: the brute force underflows on them (5e-324 * 0.5 == 0)
    st.tuples(
        st.integers(0, 10), st.sampled_from([0.0, 1.0]) | st.floats(0, 1, allow_subnormal=False)
    ),
    min_size=1,
    max_size=25,
)


@settings(deadline=None, max_examples=60)
@given(pairs_of_rows)
def test_expected_auc_is_the_pairwise_formula(rows: list[tuple[int, float]]) -> None:
    """E[pairs ranked right] / E[pairs] over distinct rows, by brute force; ties in the raw
    score (10 levels) count half; undefined (NaN) when no pair can be positive-negative."""
    score = np.asarray([level / 10 for level, _ in rows])
    p = np.asarray([probability for _, probability in rows])
    got = estimation._expected_auc(score, p)
    if sum(p[i] * (1 - p[j]) for i, j in itertools.permutations(range(len(p)), 2)) == 0:
        assert math.isnan(got)
    else:
        assert got == pytest.approx(brute_force_auc(score, p), abs=1e-9)


def test_expected_auc_matches_the_mean_realised_auc() -> None:
    rng = np.random.default_rng(5)
    p = rng.beta(2, 3, 300)
    pred = (p >= 0.5).astype(int)
    estimate = estimate_performance(pred, p, [0, 1])
    # sklearn's roc_auc_score is what classification_metrics reports as roc_auc
    draws = [roc_auc_score((rng.random(300) < p).astype(int), p) for _ in range(400)]
    assert estimate.metrics["roc_auc"] == pytest.approx(np.mean(draws), abs=0.005)


probabilities = st.lists(st.floats(0, 1, allow_nan=False), min_size=1, max_size=60)


@settings(deadline=None, max_examples=60)
@given(probabilities, st.data())
def test_estimates_lie_in_0_1_and_inside_their_bands(p: list[float], data: st.DataObject) -> None:
    score = np.asarray(p)
    pred = np.asarray(
        data.draw(st.lists(st.sampled_from([0, 1]), min_size=len(p), max_size=len(p)))
    )
    estimate = estimate_performance(pred, score, [0, 1], draws=50)
    assert set(estimate.metrics) == set(ESTIMATED)
    for name, value in estimate.metrics.items():
        if name == "roc_auc" and math.isnan(value):  # one row, or every p 0 or every p 1
            continue
        low, high = estimate.bands[name]
        assert 0.0 <= low <= value <= high <= 1.0, (name, low, value, high)
    json.dumps(estimate.to_dict(), allow_nan=False)


@settings(deadline=None, max_examples=60)
@given(probabilities)
def test_identity_accuracy_is_the_mean_confidence(p: list[float]) -> None:
    score = np.asarray(p)
    estimate = estimate_performance((score >= 0.5).astype(int), score, [0, 1], draws=20)
    expected = float(np.mean(np.maximum(score, 1 - score)))
    assert estimate.metrics["accuracy"] == pytest.approx(expected, abs=1e-12)
    assert not estimate.calibrated


@settings(deadline=None, max_examples=40)
@given(st.lists(st.tuples(st.floats(0, 1), st.booleans()), min_size=1, max_size=200))
def test_calibrator_round_trip_and_sklearn_agreement(rows: list[tuple[float, bool]]) -> None:
    score = np.asarray([s for s, _ in rows])
    y = np.asarray([int(label) for _, label in rows])
    calibrator = fit_calibration(y, (score >= 0.5).astype(int), score, [0, 1])
    stored = Calibrator.from_dict(json.loads(json.dumps(calibrator.to_dict(), allow_nan=False)))
    assert stored == calibrator
    probe = np.linspace(-0.0, 1.0, 101)
    isotonic = IsotonicRegression(y_min=0, y_max=1, out_of_bounds="clip").fit(score, y)
    assert np.allclose(stored.apply(probe), isotonic.predict(probe), atol=1e-12)
    assert np.all((stored.apply(probe) >= 0) & (stored.apply(probe) <= 1))


def test_no_reference_labels_give_the_identity() -> None:
    score = np.array([0.2, 0.7, 0.9])
    for labels in (None, [None, math.nan, None]):
        calibrator = fit_calibration(labels, [0, 1, 1], score, [0, 1])
        assert calibrator.is_identity and calibrator == Calibrator.identity([0, 1])
        assert np.array_equal(calibrator.apply(score), score)
    # labels that have not arrived yet are left out, the rest are used
    partial = fit_calibration([0, None, 1, 1], [0, 0, 1, 1], [0.1, 0.4, 0.8, 0.9], [0, 1])
    assert partial.reference_rows == 3 and not partial.is_identity


def test_missing_scores_are_skipped_and_counted() -> None:
    rng = np.random.default_rng(2)
    p = rng.uniform(0, 1, 300)
    pred = (p >= 0.5).astype(int)
    holes = p.copy()
    holes[::7] = np.nan
    with_holes = estimate_performance(pred, holes, [0, 1])
    without = estimate_performance(pred[~np.isnan(holes)], p[~np.isnan(holes)], [0, 1])
    assert with_holes.skipped_rows == 43 and with_holes.rows == 257
    assert with_holes.metrics == without.metrics
    assert with_holes.to_dict()["skipped_rows"] == 43


def test_expected_confusion_matrix() -> None:
    estimate = estimate_performance(["no", "yes", "yes"], [0.2, 0.9, 0.6], ["no", "yes"])
    assert estimate.confusion_matrix is not None
    assert estimate.confusion_matrix["labels"] == ["no", "yes"]
    (tn, fp), (fn, tp) = estimate.confusion_matrix["matrix"]
    assert (tn, fp, fn, tp) == pytest.approx((0.8, 0.5, 0.2, 1.5))
    assert estimate.metrics["precision"] == pytest.approx(1.5 / 2)
    assert estimate.metrics["recall"] == pytest.approx(1.5 / 1.7)


def test_to_dict_is_json_safe_when_a_metric_cannot_be_estimated() -> None:
    estimate = estimate_performance([1], [0.7], [0, 1])  # one row: no pair to rank
    assert math.isnan(estimate.metrics["roc_auc"])
    data = json.loads(json.dumps(estimate.to_dict(), allow_nan=False))
    assert data["metrics"]["roc_auc"] is None and data["bands"]["roc_auc"] is None
    assert data["method"] == "cbpe" and data["rows"] == 1
    assert isinstance(estimate, PerformanceEstimate)


def test_bands_are_reproducible() -> None:
    p = np.random.default_rng(4).uniform(0, 1, 200)
    first, second = (estimate_performance(p >= 0.5, p, [False, True], seed=3) for _ in range(2))
    assert first == second


@pytest.mark.parametrize(
    ("args", "field"),
    [
        (([], [], [0, 1]), "predictions"),
        (([0, 1], [0.3], [0, 1]), "predictions"),
        (([0, 1], [math.nan, math.nan], [0, 1]), "score"),
        (([0, 1], [0.3, 1.4], [0, 1]), "score"),
        (([0, 2], [0.3, 0.4], [0, 1]), "y_pred"),
        (([0, 1], [0.3, 0.4], [1]), "classes"),
        (([0, 1], [0.3, 0.4], [1, 1]), "classes"),
    ],
)
def test_bad_input_is_refused(args: tuple, field: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        estimate_performance(*args)
    assert caught.value.field == field


def test_a_calibrator_for_other_classes_is_refused() -> None:
    calibrator = Calibrator.identity(["a", "b", "c"])
    with pytest.raises(InvalidInput) as caught:
        estimate_performance([0, 1], [0.3, 0.4], [0, 1], calibrator)
    assert caught.value.field == "calibrator"
    with pytest.raises(InvalidInput):
        Calibrator.from_dict({**Calibrator.identity([0, 1]).to_dict(), "values": [0.0]})


# -- the calibration's own uncertainty -------------------------------------------------------------
def test_bands_cover_the_realised_accuracy_when_the_calibrator_learnt_from_a_small_reference() -> (
    None
):
    """Each of 100 seeds draws its own held-out reference of 1,000 rows (over-confident scores)
    and a window of 1,000: the 95 % accuracy band holds the window's realised accuracy in at
    least 93 % of them because it counts the calibrator's bootstrap spread; without it the band
    only counts the labels' noise and covers about 80 %."""
    covered = {0: 0, estimation.CALIBRATION_RESAMPLES: 0}
    for seed in range(100):
        rng = np.random.default_rng(seed)
        p = rng.beta(2, 3, 2_000)
        y = (rng.random(2_000) < p).astype(int)
        score = overconfident(p)
        pred = (score >= 0.5).astype(int)
        actual = float(np.mean(y[1_000:] == pred[1_000:]))
        for resamples in covered:
            calibrator = fit_calibration(
                y[:1_000], pred[:1_000], score[:1_000], [0, 1], resamples=resamples, seed=seed
            )
            estimate = estimate_performance(
                pred[1_000:], score[1_000:], [0, 1], calibrator, draws=20
            )
            low, high = estimate.bands["accuracy"]
            covered[resamples] += low <= actual <= high
    assert covered[estimation.CALIBRATION_RESAMPLES] >= 93, covered
    assert covered[0] < covered[estimation.CALIBRATION_RESAMPLES], covered


def test_bootstrap_refits_correct_only_the_accuracy_and_round_trip() -> None:
    rng = np.random.default_rng(8)
    p = rng.beta(2, 2, 3_000)
    y = (rng.random(3_000) < p).astype(int)
    pred = (p >= 0.5).astype(int)
    plain = fit_calibration(y, pred, p, [0, 1], resamples=0)
    spread = fit_calibration(y, pred, p, [0, 1])
    assert plain.shifts == () and spread.resamples == estimation.CALIBRATION_RESAMPLES
    assert (plain.thresholds, plain.values) == (spread.thresholds, spread.values)
    narrow = estimate_performance(pred, p, [0, 1], plain)
    wide = estimate_performance(pred, p, [0, 1], spread)
    # the refits' mean shift is the accuracy's estimated bias; the ratios keep their estimate
    signs = np.where(pred == 1, 1.0, -1.0)
    applied = spread.apply(p)
    bias = np.mean(
        [np.mean(signs * (spread.resampled(p, applied, b) - applied)) for b in range(50)]
    )
    assert bias != 0.0
    assert wide.metrics["accuracy"] == pytest.approx(narrow.metrics["accuracy"] - bias, abs=1e-12)
    assert {k: v for k, v in wide.metrics.items() if k != "accuracy"} == {
        k: v for k, v in narrow.metrics.items() if k != "accuracy"
    }
    for name in ESTIMATED:
        assert wide.bands[name][0] <= narrow.bands[name][0] + 0.002, name
        assert wide.bands[name][1] >= narrow.bands[name][1] - 0.002, name
    assert wide.bands["accuracy"][1] - wide.bands["accuracy"][0] > (
        narrow.bands["accuracy"][1] - narrow.bands["accuracy"][0]
    )
    stored = json.loads(json.dumps(spread.to_dict(), allow_nan=False))
    assert Calibrator.from_dict(stored) == spread
    with pytest.raises(InvalidInput):
        Calibrator.from_dict({**stored, "shifts": [[0.0]]})  # not one value per grid point
