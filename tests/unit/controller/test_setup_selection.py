"""Choosing a retrain's training setup by validation: what is fit, what is skipped, what wins."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.linear_model import LogisticRegression
from sklearn.neighbors import KNeighborsClassifier

from keel.controller.setup_selection import fit_setup, select_setup, setup_weights
from keel.domain.policy import Policy
from keel.domain.retraining import DEFAULT_SETUPS, SetupSelection, TrainingSetup
from keel.errors import InvalidInput


def _drifting(rows: int = 2000, seed: int = 0) -> pd.DataFrame:
    """A concept that flips halfway through the newest fifth: only recent rows tell it."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=rows)
    y = (x > 0).astype(int)
    flip = int(rows * 0.7)
    y[flip:] = 1 - y[flip:]
    return pd.DataFrame({"x": x, "y": y})


def _fit_logistic(rows: pd.DataFrame, weights: np.ndarray | None) -> LogisticRegression:
    return LogisticRegression().fit(rows[["x"]], rows["y"], sample_weight=weights)


def _accuracy(model: LogisticRegression, rows: pd.DataFrame) -> float:
    return float(np.mean(model.predict(rows[["x"]]) == rows["y"].to_numpy()))


def test_a_drifted_concept_is_learnt_from_the_setups_that_favour_recent_rows() -> None:
    chosen = select_setup(
        _drifting(), _fit_logistic, _accuracy, DEFAULT_SETUPS, validation=0.1, budget=3
    )
    assert chosen.chosen.name in ("newest 40%", "newest 15%")
    scores = {c.name: c.score for c in chosen.candidates}
    assert scores["all rows"] is not None and scores[chosen.chosen.name] > scores["all rows"]
    assert chosen.validation_rows == 200 and chosen.cost <= 3
    assert _accuracy(chosen.model, _drifting().tail(200)) == scores[chosen.chosen.name]


def test_a_stable_concept_keeps_the_plain_setup_on_a_tie() -> None:
    rows = _drifting().assign(y=lambda f: (f["x"] > 0).astype(int))
    chosen = select_setup(rows, _fit_logistic, _accuracy, DEFAULT_SETUPS, validation=0.1, budget=3)
    assert chosen.chosen.name == "all rows"  # max keeps the earliest of equal scores


def test_setups_past_the_budget_are_skipped_and_say_so() -> None:
    chosen = select_setup(
        _drifting(), _fit_logistic, _accuracy, DEFAULT_SETUPS, validation=0.1, budget=2.1
    )
    skipped = {c.name: c.skipped for c in chosen.candidates if c.skipped}
    assert list(skipped) == ["newest 40%"]  # 1.9 spent: 0.36 more is over, 0.135 is not
    assert "budget of 2.1 fits" in skipped["newest 40%"]
    assert chosen.cost <= 2.1


def test_a_learner_that_cannot_weight_rows_skips_the_weighted_setup() -> None:
    def fit(rows: pd.DataFrame, weights: np.ndarray | None) -> KNeighborsClassifier:
        if weights is not None:
            raise InvalidInput("retraining.training.recency_half_life", "no sample_weight")
        return KNeighborsClassifier().fit(rows[["x"]], rows["y"])

    setups = (*DEFAULT_SETUPS[:1], TrainingSetup(name="weighted", half_life=0.1))
    chosen = select_setup(_drifting(), fit, _accuracy, setups, validation=0.1, budget=3)
    weighted = next(c for c in chosen.candidates if c.name == "weighted")
    assert weighted.score is None and weighted.skipped == "no sample_weight"
    assert chosen.chosen.name != weighted.name


def test_too_few_validation_rows_keep_the_first_setup_unscored() -> None:
    chosen = select_setup(
        _drifting(rows=200), _fit_logistic, _accuracy, DEFAULT_SETUPS, validation=0.1, budget=3
    )
    assert chosen.chosen.name == "all rows" and chosen.candidates == () and chosen.model is None


def test_the_default_setups_fit_the_default_budget_with_the_final_fit() -> None:
    choice = SetupSelection()
    assert 1 + sum(s.cost(choice.validation) for s in choice.setups) <= choice.budget
    assert Policy().retraining.training.selecting
    fixed = Policy.parse({"retraining": {"training": {"recency_half_life": 500}}})
    assert not fixed.retraining.training.selecting  # that policy chose its one setup


def test_setup_names_must_differ() -> None:
    with pytest.raises(ValueError, match="name of its own"):
        SetupSelection(setups=(TrainingSetup(name="a"), TrainingSetup(name="a", rows=0.5)))


@settings(deadline=None, max_examples=50)
@given(rows=st.integers(1, 500), half_life=st.floats(0.01, 2.0))
def test_weights_halve_every_half_life_back_from_the_newest_row(
    rows: int, half_life: float
) -> None:
    weights = setup_weights(rows, TrainingSetup(name="w", half_life=half_life))
    assert weights is not None and len(weights) == rows and weights[-1] == 1.0
    assert np.all(np.diff(weights) >= 0)
    back = max(1, round(rows * half_life))
    if back < rows:
        assert weights[-1 - back] == pytest.approx(0.5)


def test_a_setup_trains_on_its_newest_share() -> None:
    frame = pd.DataFrame({"x": range(100)})
    seen = fit_setup(frame, lambda rows, w: rows["x"].tolist(), TrainingSetup(name="n", rows=0.1))
    assert seen == list(range(90, 100))


def test_an_integer_label_of_a_regressor_is_scored_by_its_error_not_as_classes() -> None:
    from sklearn.linear_model import LinearRegression

    from keel.controller.retrain_setup import _scorer

    rows = pd.DataFrame({"x": np.arange(100.0), "y": np.arange(100) * 3 + 1})
    window: Any = {"target": "y", "features": ["x"], "train": rows}
    metric, score = _scorer(window, classes=False)
    fitted = LinearRegression().fit(rows[["x"]], rows["y"])
    assert metric == "-rmse" and score(fitted, rows) == pytest.approx(0.0, abs=1e-9)
    assert _scorer(window, classes=True)[0] == "accuracy"
