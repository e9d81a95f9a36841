"""A retrain of an ONNX champion that ``keel models convert`` made: the default pipeline refits
the source's estimator on the window and converts it again, keeping naming the source."""

from __future__ import annotations

from datetime import timedelta

import numpy as np
import pandas as pd
import pytest

from keel.client import Client

from .scenario import START, log_rows_with_labels

MODEL = "plans"


def _rows(count: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    plan = rng.choice(["free", "pro", "team"], count)
    amount = rng.normal(50.0, 15.0, count).round(2)
    logit = (plan == "pro") * 1.2 + (amount - 50.0) / 10.0
    return pd.DataFrame(
        {
            "plan": pd.Categorical(plan, categories=["team", "pro", "free"]),
            "amount": amount,
            "y": (logit + rng.normal(0, 0.5, count) > 0.3).astype(int),
        }
    )


def test_a_converted_champion_is_retrained_through_its_source(store: Client) -> None:
    pytest.importorskip("skl2onnx")
    from sklearn.base import clone
    from sklearn.compose import ColumnTransformer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import OneHotEncoder

    train = _rows(400, 0)
    pipeline = Pipeline(
        [
            (
                "encode",
                ColumnTransformer(
                    [("plan", OneHotEncoder(handle_unknown="ignore"), ["plan"])],
                    remainder="passthrough",
                ),
            ),
            ("model", LogisticRegression()),
        ]
    ).fit(train[["plan", "amount"]], train["y"])
    store.register_model(MODEL, pipeline, training_data=train, target="y")
    converted = store.convert_model(f"{MODEL}/1")
    store.set_policy(
        MODEL,
        {
            "monitoring": {"target": "y", "window": {"rows": 200}},
            "gates": {"checks": ["accuracy >= 0.5"]},
            "retraining": {"training": {"recent_rows": 400, "holdout": 0.25}},
        },
    )
    store.set_alias(MODEL, "champion", converted.version.version, reason="serve the graph")

    served = _rows(400, 1)
    logged = served[["plan", "amount"]].astype({"plan": str})
    log_rows_with_labels(store, MODEL, logged, served["y"], START)

    store.retrain(MODEL, reason="new quarter", now=START + timedelta(hours=1))
    [retrain] = store.retrains(MODEL)
    assert retrain.candidate_version is not None, retrain.outcome
    candidate = store.get_version(f"{MODEL}/{retrain.candidate_version}")
    assert candidate.flavour == "onnx"
    assert candidate.tags["converted_from"] == f"{MODEL}/1"
    assert candidate.parent_version == converted.version.version

    # the new graph is the source's pipeline refit on the window, converted
    window = store.load_snapshot(str(candidate.training_snapshot))
    refit = clone(pipeline).fit(window[["plan", "amount"]], window["y"])
    graph = store.load_model(candidate.ref)
    rows = served[["plan", "amount"]].astype({"plan": str})
    expected = refit.predict_proba(served[["plan", "amount"]])
    assert np.abs(graph.predict_proba(rows) - expected).max() < 1e-4
