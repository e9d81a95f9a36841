"""The paired bootstrap: weighted metrics equal sklearn's, runs reproduce, intervals cover."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import norm
from sklearn import metrics as sk

from keel.evaluation import bootstrap
from keel.evaluation.bootstrap import (
    QUANTILES,
    SUPPORTED_BINARY,
    Interval,
    binary_bootstrap,
    regression_bootstrap,
)


def sklearn_binary(y: np.ndarray, pred: np.ndarray, scores: np.ndarray) -> dict[str, float]:
    return {
        "accuracy": sk.accuracy_score(y, pred),
        "balanced_accuracy": sk.balanced_accuracy_score(y, pred),
        "precision": sk.precision_score(y, pred),
        "recall": sk.recall_score(y, pred),
        "f1": sk.f1_score(y, pred),
        "roc_auc": sk.roc_auc_score(y, scores),
        "pr_auc": sk.average_precision_score(y, scores),
        "log_loss": sk.log_loss(y, scores),
        "brier": sk.brier_score_loss(y, scores),
    }


def two_models(n: int, seed: int, *, decimals: int | None = 2):
    """Labels and two correlated probabilistic models; rounding the scores makes ties."""
    rng = np.random.default_rng(seed)
    y = rng.binomial(1, 0.35, n)
    noise = rng.multivariate_normal([0, 0], [[1, 0.6], [0.6, 1]], n)
    a = 1 / (1 + np.exp(-(1.3 * y + noise[:, 0] - 0.6)))
    b = 1 / (1 + np.exp(-(1.0 * y + noise[:, 1] - 0.6)))
    if decimals is not None:  # clipped: a score of exactly 0 or 1 has an unbounded log loss
        a = np.clip(np.round(a, decimals), 0.02, 0.98)
        b = np.clip(np.round(b, decimals), 0.02, 0.98)
    return y, ((a > 0.5).astype(int), a), ((b > 0.5).astype(int), b)


def differences(y, candidate, champion) -> dict[str, float]:
    mine, theirs = sklearn_binary(y, *candidate), sklearn_binary(y, *champion)
    return {k: mine[k] - theirs[k] for k in mine}


def test_weights_of_one_give_sklearn_metrics() -> None:
    y, candidate, champion = two_models(500, 1)
    a, b = bootstrap._binary_pair(y.astype(float), candidate, champion)
    ones = np.ones((500, 1), dtype=np.float32)
    for scorer, (pred, scores) in ((a, candidate), (b, champion)):
        got = scorer.block(ones, SUPPORTED_BINARY)
        expected = sklearn_binary(y, pred, scores)
        for metric in SUPPORTED_BINARY:
            assert got[metric][0] == pytest.approx(expected[metric], abs=1e-6), metric


def test_whole_number_weights_equal_a_resample_with_repeated_rows() -> None:
    y, candidate, champion = two_models(300, 2)
    rng = np.random.default_rng(9)
    weights = rng.poisson(1.0, size=(300, 4)).astype(np.float32)
    a, b = bootstrap._binary_pair(y.astype(float), candidate, champion)
    in_order = weights[a.order]  # the scorers hold rows in the candidate's score order
    for scorer, (pred, scores) in ((a, candidate), (b, champion)):
        got = scorer.block(in_order, SUPPORTED_BINARY)
        for column in range(4):
            rows = np.repeat(np.arange(300), weights[:, column].astype(int))
            expected = sklearn_binary(y[rows], pred[rows], scores[rows])
            for metric in SUPPORTED_BINARY:
                assert got[metric][column] == pytest.approx(expected[metric], abs=1e-5), metric


def test_regression_scorer_with_weights_of_one() -> None:
    rng = np.random.default_rng(4)
    y = rng.uniform(1, 5, 200)
    pred = y + rng.normal(0, 0.5, 200)
    got = bootstrap._RegressionScorer(y, pred).block(
        np.ones((200, 1), np.float32), bootstrap.SUPPORTED_REGRESSION
    )
    assert got["mae"][0] == pytest.approx(sk.mean_absolute_error(y, pred), rel=1e-5)
    assert got["rmse"][0] == pytest.approx(np.sqrt(sk.mean_squared_error(y, pred)), rel=1e-5)
    assert got["mape"][0] == pytest.approx(sk.mean_absolute_percentage_error(y, pred), rel=1e-5)


def test_seeded_runs_are_reproducible() -> None:
    y, candidate, champion = two_models(400, 3)
    observed = differences(y, candidate, champion)
    first = binary_bootstrap(y, candidate, champion, observed, resamples=200, seed=5)
    again = binary_bootstrap(y, candidate, champion, observed, resamples=200, seed=5)
    other = binary_bootstrap(y, candidate, champion, observed, resamples=200, seed=6)
    assert set(first) == set(SUPPORTED_BINARY)
    assert {m: i.to_dict() for m, i in first.items()} == {m: i.to_dict() for m, i in again.items()}
    assert first["roc_auc"].quantiles != other["roc_auc"].quantiles


def test_interval_shape_and_bounds() -> None:
    y, candidate, champion = two_models(400, 4)
    observed = differences(y, candidate, champion)
    interval = binary_bootstrap(
        y, candidate, champion, observed, ["roc_auc"], resamples=300, seed=0
    )["roc_auc"]
    assert isinstance(interval, Interval)
    assert list(interval.quantiles) == [f"{q:g}" for q in QUANTILES]
    values = list(interval.quantiles.values())
    assert values == sorted(values)
    assert interval.low < interval.observed < interval.high
    assert interval.lower_bound(0.95) == interval.quantiles["0.05"]
    assert interval.upper_bound(0.975) == interval.high
    assert interval.to_dict()["ci95"] == [interval.low, interval.high]
    with pytest.raises(ValueError, match="not kept"):
        interval.lower_bound(0.8)
    only_predictions = binary_bootstrap(
        y, (candidate[0], None), (champion[0], None), observed, resamples=50
    )
    assert set(only_predictions) == {
        "accuracy",
        "balanced_accuracy",
        "precision",
        "recall",
        "f1",
    }


def test_regression_bootstrap_is_centred_on_the_observed_difference() -> None:
    rng = np.random.default_rng(8)
    y = rng.normal(10, 2, 300)
    good, bad = y + rng.normal(0, 1, 300), y + rng.normal(0, 1.5, 300)
    observed = {"mae": float(np.mean(np.abs(good - y)) - np.mean(np.abs(bad - y)))}
    out = regression_bootstrap(y, good, bad, observed, resamples=400, seed=1)
    assert set(out) == {"mae"}
    assert out["mae"].low < observed["mae"] < out["mae"].high < 0


def test_intervals_cover_the_population_difference() -> None:
    """200 data sets of 300 rows from a population whose differences are known exactly."""
    prior, shift_a, shift_b, cut = 0.4, 1.2, 0.9, 0.6
    scale = np.sqrt(2)

    def accuracy(shift: float) -> float:
        return prior * (1 - norm.cdf(cut - shift)) + (1 - prior) * norm.cdf(cut)

    truth = {
        "accuracy": accuracy(shift_a) - accuracy(shift_b),
        "roc_auc": norm.cdf(shift_a / scale) - norm.cdf(shift_b / scale),
    }
    rng = np.random.default_rng(2024)
    covered = {"accuracy": 0, "roc_auc": 0}
    repetitions = 200
    for repetition in range(repetitions):
        y = rng.binomial(1, prior, 300)
        noise = rng.multivariate_normal([0, 0], [[1, 0.5], [0.5, 1]], 300)
        raw_a, raw_b = shift_a * y + noise[:, 0], shift_b * y + noise[:, 1]
        candidate = ((raw_a > cut).astype(int), 1 / (1 + np.exp(-raw_a)))
        champion = ((raw_b > cut).astype(int), 1 / (1 + np.exp(-raw_b)))
        observed = {
            "accuracy": sk.accuracy_score(y, candidate[0]) - sk.accuracy_score(y, champion[0]),
            "roc_auc": sk.roc_auc_score(y, candidate[1]) - sk.roc_auc_score(y, champion[1]),
        }
        out = binary_bootstrap(
            y, candidate, champion, observed, list(covered), resamples=300, seed=repetition
        )
        for metric in covered:
            covered[metric] += out[metric].low <= truth[metric] <= out[metric].high
    for metric, hits in covered.items():
        assert 0.90 <= hits / repetitions <= 0.99, (metric, hits)


@pytest.mark.parametrize("decimals", [1, None])
def test_pooled_cells_give_intervals_close_to_the_exact_path(monkeypatch, decimals) -> None:
    """Above EXACT_ROWS rows are pooled into cells; the intervals barely change."""
    y, candidate, champion = two_models(4000, 12, decimals=decimals)
    observed = differences(y, candidate, champion)
    exact = binary_bootstrap(y, candidate, champion, observed, resamples=1500, seed=2)
    monkeypatch.setattr(bootstrap, "EXACT_ROWS", 500)
    cells = bootstrap._cells(y.astype(float), candidate, champion)[0]
    assert cells.sum() == 4000
    if decimals == 1:
        assert len(cells) < 300  # heavily pooled: the path under test really pools
    pooled = binary_bootstrap(y, candidate, champion, observed, resamples=1500, seed=2)
    assert set(pooled) == set(exact) == set(SUPPORTED_BINARY)
    for metric in SUPPORTED_BINARY:
        width_exact = exact[metric].high - exact[metric].low
        width_pooled = pooled[metric].high - pooled[metric].low
        assert width_pooled == pytest.approx(width_exact, rel=0.15), metric
        assert pooled[metric].observed == observed[metric]
        middle = pooled[metric].quantiles["0.5"]
        assert abs(middle - observed[metric]) < 0.2 * width_exact, metric
