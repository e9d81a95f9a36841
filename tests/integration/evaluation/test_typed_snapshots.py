"""Evaluation gives each model its training types: a holdout registered from CSV text (categories
as plain text and ints) scores a LightGBM model trained on pandas categories exactly as the
typed frame does."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn import metrics as sk

from keel.client import Client
from keel.domain.policy import Suite
from keel.settings import Settings


def _census(rows: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    colour = rng.choice(["red", "green", "blue", "teal"], rows)
    grade = rng.choice([3, 1, 2, 10], rows)
    age = rng.integers(18, 90, rows)
    logit = (colour == "red") * 1.5 - (grade == 10) * 1.2 + (age - 50) / 20
    return pd.DataFrame(
        {
            "colour": pd.Categorical(colour, categories=["teal", "red", "blue", "green"]),
            "grade": pd.Categorical(grade, categories=[10, 3, 1, 2]),
            "age": age,
            "y": (logit + rng.normal(0, 0.5, rows) > 0.3).astype(int),
        }
    )


def test_a_holdout_from_csv_text_is_scored_with_the_training_categories(tmp_path: Path) -> None:
    lightgbm = pytest.importorskip("lightgbm")
    train, holdout = _census(400, 0), _census(200, 1)
    features = ["colour", "grade", "age"]
    fitted = lightgbm.LGBMClassifier(n_estimators=10, min_child_samples=5, verbose=-1)
    fitted.fit(train[features], train["y"])
    settings = Settings(
        store_url=f"sqlite:///{tmp_path / 'keel.db'}", artifacts=str(tmp_path / "a"), actor="t"
    )
    with Client(settings=settings) as client:
        client.register_model("census", fitted, training_data=train, target="y")
        text = pd.read_csv(io.StringIO(holdout.to_csv(index=False)))
        assert not isinstance(text["grade"].dtype, pd.CategoricalDtype)
        client.register_snapshot(text, "holdout")
        suite = Suite.model_validate(
            {"snapshots": ["holdout"], "target": "y", "resamples": 50, "measure_cost": False}
        )
        evaluation = client.evaluate("census/1", suite)
    assert evaluation.status == "finished", evaluation.error
    metrics = evaluation.results["snapshots"][0]["metrics"]
    proba = fitted.predict_proba(holdout[features])[:, 1]
    assert metrics["accuracy"] == pytest.approx(
        sk.accuracy_score(holdout["y"], fitted.predict(holdout[features])), abs=1e-12
    )
    assert metrics["roc_auc"] == pytest.approx(sk.roc_auc_score(holdout["y"], proba), abs=1e-12)
