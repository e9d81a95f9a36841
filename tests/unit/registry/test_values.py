"""Cleaning the free-form maps users attach to versions and runs."""

from __future__ import annotations

import math

import numpy as np
import pytest

from keel.errors import InvalidInput
from keel.registry.values import clean_metrics, clean_params, clean_tags, jsonable, model_params


def test_metrics_become_floats() -> None:
    assert clean_metrics({"auc": 1, "loss": np.float32(0.5)}) == {"auc": 1.0, "loss": 0.5}
    assert clean_metrics(None) == {}


@pytest.mark.parametrize("value", [math.nan, math.inf, "0.9", True, None, [1]])
def test_bad_metric_values_raise_invalid_input_naming_the_metric(value: object) -> None:
    with pytest.raises(InvalidInput) as caught:
        clean_metrics({"auc": value})
    assert caught.value.field == "metrics.auc"


@pytest.mark.parametrize("key", ["", 3, None, "k" * 257])
def test_bad_keys_raise_invalid_input(key: object) -> None:
    with pytest.raises(InvalidInput) as caught:
        clean_tags({key: "x"})  # type: ignore[dict-item]
    assert caught.value.field == "tags"


def test_tags_become_strings() -> None:
    assert clean_tags({"team": "risk", "n": 3}) == {"team": "risk", "n": "3"}


def test_params_become_json_values() -> None:
    cleaned = clean_params(
        {
            "C": np.float64(0.5),
            "n": np.int64(3),
            "layers": (64, 32),
            "inf": math.inf,
            "fn": len,
            "nested": {1: [None, True]},
        }
    )
    assert cleaned == {
        "C": 0.5,
        "n": 3,
        "layers": [64, 32],
        "inf": "inf",
        "fn": repr(len),
        "nested": {"1": [None, True]},
    }
    assert jsonable(np.array([1, 2])) == repr(np.array([1, 2]))


def test_model_params_use_get_params() -> None:
    from sklearn.linear_model import LogisticRegression

    params = model_params(LogisticRegression(C=0.25, max_iter=77))
    assert params["C"] == 0.25
    assert params["max_iter"] == 77
    assert model_params(object()) == {}
