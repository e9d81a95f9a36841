"""A retrain of a LightGBM champion trained on pandas ``category`` columns: the prediction log
keeps categories as text and ints as floats, and the training window gives them back their
training types before the candidate is fitted and its snapshots are registered."""

from __future__ import annotations

from datetime import timedelta

import numpy as np
import pandas as pd
import pytest

from keel.client import Client

from .scenario import START, log_rows_with_labels

MODEL = "census"
COLOURS = ["teal", "red", "blue", "green"]
GRADES = [10, 3, 1, 2]


def _census(rows: int, seed: int, colours: list[str] = COLOURS) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    colour = rng.choice(colours, rows)
    grade = rng.choice(GRADES, rows)
    age = rng.integers(18, 90, rows)
    member = rng.random(rows) < 0.4
    logit = (colour == "red") * 1.5 - (grade == 10) * 1.2 + (age - 50) / 20 + member * 0.8
    return pd.DataFrame(
        {
            "colour": pd.Categorical(
                colour, categories=COLOURS + sorted(set(colours) - set(COLOURS))
            ),
            "grade": pd.Categorical(grade, categories=GRADES),
            "age": age,
            "income": rng.normal(50.0, 10.0, rows).round(3),
            "member": member,
            "y": (logit + rng.normal(0, 0.5, rows) > 0.3).astype(int),
        }
    )


def test_a_retrain_from_the_log_fits_and_registers_typed_categories(store: Client) -> None:
    lightgbm = pytest.importorskip("lightgbm")
    train = _census(400, 0)
    features = ["colour", "grade", "age", "income", "member"]
    fitted = lightgbm.LGBMClassifier(n_estimators=10, min_child_samples=5, verbose=-1)
    fitted.fit(train[features], train["y"])
    store.register_model(MODEL, fitted, training_data=train, target="y")
    store.set_policy(
        MODEL,
        {
            "monitoring": {"target": "y", "window": {"rows": 200}},
            "gates": {"checks": ["accuracy >= 0.5"]},
            "retraining": {"training": {"recent_rows": 400, "holdout": 0.25}},
        },
    )
    store.set_alias(MODEL, "champion", 1, reason="launch")

    # production rows as serving logs them: categories as text, one colour never trained on
    served = _census(400, 1, colours=[*COLOURS, "mauve"])
    logged = served[features].astype({"colour": str, "grade": str})
    log_rows_with_labels(store, MODEL, logged, served["y"], START)

    store.retrain(MODEL, reason="new census year", now=START + timedelta(hours=1))
    [retrain] = store.retrains(MODEL)
    assert retrain.candidate_version is not None, retrain.outcome
    candidate = store.get_version(f"{MODEL}/{retrain.candidate_version}")
    for ref in (str(candidate.training_snapshot), candidate.tags["holdout"]):
        part = store.load_snapshot(ref)
        assert list(part["colour"].cat.categories) == [*COLOURS, "mauve"]
        assert part["age"].dtype == np.int64 and part["member"].dtype == bool
        # Parquet keeps only text categories as such; the profile keeps every category's order
        grade = store.get_snapshot(ref).profile["columns"]["grade"]
        assert (grade["type"], grade["order"]) == ("category", GRADES)
    assert candidate.signature is not None
    colour = candidate.signature.feature("colour")
    assert colour.type == "category" and colour.categories == (*COLOURS, "mauve")

    # the candidate answers plain rows, and its holdout exactly like the native object does
    loaded = store.load_model(f"{MODEL}/{candidate.version}")
    holdout = store.load_snapshot(candidate.tags["holdout"])[features]
    plain = holdout.astype({"colour": str, "grade": str})
    typed = holdout.astype({"grade": pd.CategoricalDtype(GRADES)})
    np.testing.assert_array_equal(loaded.predict_proba(plain), loaded.model.predict_proba(typed))
