"""``training.recency_half_life``: row weights by age and how they reach an estimator's fit."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from keel.controller.retrain_fitting import _weight_argument, recency_weights
from keel.domain.retraining import Training
from keel.errors import InvalidInput


@given(st.integers(1, 500), st.integers(1, 200))
def test_the_newest_row_weighs_one_and_weights_halve_every_half_life(
    rows: int, half_life: int
) -> None:
    weights = recency_weights(rows, half_life)
    assert weights is not None and len(weights) == rows
    assert weights[-1] == 1.0
    assert np.all(np.diff(weights) > 0)  # oldest first, each newer row weighs more
    if rows > half_life:
        assert weights[-1 - half_life] == pytest.approx(0.5)


def test_no_half_life_means_no_weights() -> None:
    assert recency_weights(10, None) is None
    assert _weight_argument(object(), None) == {}


def test_a_pipeline_routes_the_weights_to_its_last_step() -> None:
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    model = make_pipeline(StandardScaler(), LogisticRegression())
    weights = recency_weights(40, 10)
    argument = _weight_argument(model, weights)
    assert list(argument) == ["logisticregression__sample_weight"]
    x = np.arange(80.0).reshape(40, 2)
    model.fit(x, np.arange(40) % 2, **argument)  # sklearn accepts it as given


def test_an_estimator_without_sample_weight_is_refused_naming_the_field() -> None:
    from sklearn.neighbors import KNeighborsClassifier

    with pytest.raises(InvalidInput) as refused:
        _weight_argument(KNeighborsClassifier(), recency_weights(5, 2))
    assert refused.value.field == "retraining.training.recency_half_life"
    assert "KNeighborsClassifier" in str(refused.value)


def test_the_policy_field_must_be_a_positive_row_count() -> None:
    from pydantic import ValidationError

    assert Training(recency_half_life=2000).recency_half_life == 2000
    with pytest.raises(ValidationError):
        Training(recency_half_life=0)
