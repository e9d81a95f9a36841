"""Every metric agrees with scikit-learn (or, for ECE, a direct formula) on the same inputs."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn import metrics as sk

from keel.domain.policy import SliceCondition
from keel.errors import InvalidInput
from keel.evaluation import baselines
from keel.evaluation.curves import MAX_POINTS, binary_curves
from keel.evaluation.metrics import (
    CLASSIFICATION,
    classification_metrics,
    expected_calibration_error,
    higher_is_better,
    regression_metrics,
)
from keel.evaluation.slices import slice_mask


def direct_ece(hit: np.ndarray, confidence: np.ndarray, bins: int = 15) -> float:
    """sum over bins of (bin share) * |bin accuracy - bin mean confidence|, bins (k/B, (k+1)/B]."""
    total = 0.0
    for k in range(bins):
        low, high = k / bins, (k + 1) / bins
        inside = (confidence > low) & (confidence <= high)
        if k == 0:
            inside |= confidence == 0.0
        if inside.any():
            gap = abs(hit[inside].mean() - confidence[inside].mean())
            total += inside.mean() * gap
    return total


@pytest.fixture
def binary_case() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(7)
    y = rng.integers(0, 2, 400)
    p1 = np.clip(0.3 * y + rng.uniform(0, 0.7, 400), 0, 1)
    proba = np.column_stack([1 - p1, p1])
    pred = (p1 >= 0.5).astype(int)
    return y, pred, proba


def test_binary_metrics_match_sklearn(binary_case) -> None:
    y, pred, proba = binary_case
    got = classification_metrics(y, pred, proba, [0, 1])
    assert got["rows"] == 400
    assert got["accuracy"] == pytest.approx(sk.accuracy_score(y, pred), abs=1e-12)
    assert got["balanced_accuracy"] == pytest.approx(sk.balanced_accuracy_score(y, pred))
    assert got["precision"] == pytest.approx(sk.precision_score(y, pred))
    assert got["recall"] == pytest.approx(sk.recall_score(y, pred))
    assert got["f1"] == pytest.approx(sk.f1_score(y, pred))
    assert got["roc_auc"] == pytest.approx(sk.roc_auc_score(y, proba[:, 1]))
    assert got["pr_auc"] == pytest.approx(sk.average_precision_score(y, proba[:, 1]))
    assert got["log_loss"] == pytest.approx(sk.log_loss(y, proba))
    assert got["brier"] == pytest.approx(sk.brier_score_loss(y, proba[:, 1]))
    assert got["ece"] == pytest.approx(direct_ece(y.astype(float), proba[:, 1]), abs=1e-12)
    assert got["confusion_matrix"] == {
        "labels": [0, 1],
        "matrix": sk.confusion_matrix(y, pred).tolist(),
    }
    assert all(isinstance(got[m], float) for m in CLASSIFICATION)


def test_string_labels_use_the_second_class_as_positive(binary_case) -> None:
    y, pred, proba = binary_case
    names = np.array(["no", "yes"])
    got = classification_metrics(names[y], names[pred], proba, ["no", "yes"])
    assert got["recall"] == pytest.approx(sk.recall_score(y, pred))
    assert got["roc_auc"] == pytest.approx(sk.roc_auc_score(y, proba[:, 1]))
    assert got["confusion_matrix"]["labels"] == ["no", "yes"]


def test_multiclass_metrics_match_sklearn() -> None:
    rng = np.random.default_rng(3)
    y = rng.integers(0, 3, 500)
    logits = rng.normal(size=(500, 3)) + 1.5 * np.eye(3)[y]
    proba = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    pred = proba.argmax(axis=1)
    got = classification_metrics(y, pred, proba, [0, 1, 2])
    onehot = np.eye(3)[y]
    assert got["accuracy"] == pytest.approx(sk.accuracy_score(y, pred))
    assert got["balanced_accuracy"] == pytest.approx(sk.balanced_accuracy_score(y, pred))
    for name, function in (
        ("precision", sk.precision_score),
        ("recall", sk.recall_score),
        ("f1", sk.f1_score),
    ):
        assert got[name] == pytest.approx(function(y, pred, average="macro"))
    assert got["roc_auc"] == pytest.approx(sk.roc_auc_score(y, proba, multi_class="ovr"))
    assert got["pr_auc"] == pytest.approx(sk.average_precision_score(onehot, proba))
    assert got["log_loss"] == pytest.approx(sk.log_loss(y, proba))
    assert got["brier"] == pytest.approx(sk.brier_score_loss(y, proba))
    hit = (pred == y).astype(float)
    assert got["ece"] == pytest.approx(direct_ece(hit, proba.max(axis=1)), abs=1e-12)
    assert np.array(got["confusion_matrix"]["matrix"]).sum() == 500


def test_regression_metrics_match_sklearn() -> None:
    rng = np.random.default_rng(11)
    y = rng.uniform(1, 10, 300)
    pred = y + rng.normal(0, 1, 300)
    got = regression_metrics(y, pred)
    assert got["mae"] == pytest.approx(sk.mean_absolute_error(y, pred))
    assert got["rmse"] == pytest.approx(np.sqrt(sk.mean_squared_error(y, pred)))
    assert got["r2"] == pytest.approx(sk.r2_score(y, pred))
    assert got["mape"] == pytest.approx(sk.mean_absolute_percentage_error(y, pred))
    assert regression_metrics(y[:1], pred[:1]).keys() == {"rows", "mae", "rmse", "mape"}


def test_only_the_wanted_metrics_and_none_needing_probabilities_without_them(binary_case):
    y, pred, proba = binary_case
    assert classification_metrics(y, pred, proba, [0, 1], ["recall"]).keys() == {
        "rows",
        "recall",
        "confusion_matrix",
    }
    without = classification_metrics(y, pred, None, [0, 1])
    assert {"roc_auc", "pr_auc", "log_loss", "brier", "ece"}.isdisjoint(without)
    one_class = classification_metrics(np.ones(5, int), np.ones(5, int), proba[:5], [0, 1])
    assert one_class["accuracy"] == 1.0 and "roc_auc" not in one_class


@pytest.mark.parametrize("bins", [1, 5, 15, 40])
def test_ece_against_a_direct_formula(bins: int) -> None:
    rng = np.random.default_rng(bins)
    confidence = np.concatenate([rng.uniform(0, 1, 997), [0.0, 1.0, 1 / 3]])
    hit = (rng.uniform(0, 1, 1000) < confidence**1.5).astype(float)
    got = expected_calibration_error(hit, confidence, bins)
    assert got == pytest.approx(direct_ece(hit, confidence, bins), abs=1e-12)
    assert expected_calibration_error(np.array([1.0, 0.0]), np.array([1.0, 0.0])) == 0.0
    assert np.isnan(expected_calibration_error(np.array([]), np.array([])))


def test_direction_of_metrics() -> None:
    assert higher_is_better("roc_auc") and higher_is_better("r2")
    assert not higher_is_better("log_loss") and not higher_is_better("ece")
    assert not higher_is_better("latency_p99_ms") and not higher_is_better("size_mb")


def test_majority_and_persistence_baselines() -> None:
    y = np.array([1, 1, 0, 0, 0, 1, 0, 0])
    majority = baselines.majority(y, [0, 1], ["accuracy", "roc_auc"])
    assert majority["predicts"] == 0
    assert majority["accuracy"] == pytest.approx(5 / 8)
    assert majority["roc_auc"] == pytest.approx(0.5)
    persistence = baselines.persistence(y, [0, 1], ["accuracy"])
    assert persistence["rows"] == 7
    assert persistence["accuracy"] == pytest.approx(np.mean(y[1:] == y[:-1]))
    assert baselines.persistence(y[:1], [0, 1], ["accuracy"]) == {"rows": 0}
    values = np.array([1.0, 2.0, 4.0, 8.0])
    mean = baselines.mean_baseline(values, ["mae"])
    assert mean["predicts"] == pytest.approx(3.75)
    assert mean["mae"] == pytest.approx(np.mean(np.abs(values - 3.75)))
    assert baselines.persistence_regression(values, ["mae"])["mae"] == pytest.approx(7 / 3)


def test_slice_masks() -> None:
    frame = pd.DataFrame(
        {"age": [20, 30, None, 40], "region": ["DE", "FR", "DE", None], "n": [1, 2, 3, 4]}
    )
    young = {"age": SliceCondition(lt=35)}
    assert slice_mask(frame, "young", young).tolist() == [True, True, False, False]
    both = {"age": SliceCondition(ge=20, le=30), "region": SliceCondition(eq="DE")}
    assert slice_mask(frame, "both", both).tolist() == [True, False, False, False]
    member = {"region": SliceCondition.model_validate({"in": ["FR", "DE"]})}
    assert slice_mask(frame, "m", member).tolist() == [True, True, True, False]
    with pytest.raises(InvalidInput) as missing:
        slice_mask(frame, "x", {"height": SliceCondition(gt=1)})
    assert missing.value.field == "slices.x" and "height" in missing.value.problem
    with pytest.raises(InvalidInput) as typed:
        slice_mask(frame, "x", {"region": SliceCondition(gt=1)})
    assert typed.value.field == "slices.x.region"


def test_curves_are_thinned_and_match_sklearn() -> None:
    rng = np.random.default_rng(5)
    truth = rng.integers(0, 2, 2000)
    scores = np.clip(0.4 * truth + rng.uniform(0, 0.6, 2000), 0, 1)
    curves = binary_curves(truth, scores)
    assert len(curves["roc"]["fpr"]) <= MAX_POINTS
    assert curves["roc"]["fpr"][0] == 0.0 and curves["roc"]["tpr"][-1] == 1.0
    area = np.trapezoid(curves["roc"]["tpr"], curves["roc"]["fpr"])
    assert area == pytest.approx(sk.roc_auc_score(truth, scores), abs=0.01)
    assert sum(curves["calibration"]["count"]) == 2000
    assert binary_curves(np.zeros(4, int), np.linspace(0, 1, 4)) == {}


@pytest.mark.parametrize(
    ("y", "pred"),
    [
        ([1, 1, 1, 1], [1, 1, 1, 1]),  # a slice holding one class, all right
        ([1, 1, 1, 1], [1, 0, 1, 0]),  # one class in the slice, both predicted
        ([0, 1, 0, 1, 0, 1], [0, 1, 2, 1, 0, 1]),  # a class absent from the slice
    ],
)
def test_degenerate_slices_give_sklearn_values_without_warnings(y, pred) -> None:
    y_true, y_pred = np.array(y), np.array(pred)
    classes = [0, 1, 2] if 2 in y_pred else [0, 1]
    proba = np.random.default_rng(0).dirichlet(np.ones(len(classes)), len(y))
    got = classification_metrics(y_true, y_pred, proba, classes)  # warnings are errors here
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        expected = sk.balanced_accuracy_score(y_true, y_pred)
    assert got["balanced_accuracy"] == pytest.approx(expected)
    assert "roc_auc" not in got and "pr_auc" not in got
