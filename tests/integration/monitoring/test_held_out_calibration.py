"""The label-free estimate learns from rows the model never trained on: the policy's held-out
reference, its gate suite, or out-of-fold refits on the training snapshot, recorded with the
reference; never the model's in-sample scores."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pytest
from sklearn.ensemble import RandomForestClassifier

from keel.client import Client
from keel.domain.policy import Policy
from keel.monitoring import held_out
from keel.monitoring.estimation import estimate_performance, fit_calibration
from keel.monitoring.runner import References


@pytest.fixture
def halves(cancer_frame: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    shuffled = cancer_frame.sample(frac=1.0, random_state=0).reset_index(drop=True)
    return shuffled.iloc[:300].reset_index(drop=True), shuffled.iloc[300:].reset_index(drop=True)


def forest(train: pd.DataFrame) -> RandomForestClassifier:
    return RandomForestClassifier(n_estimators=60, random_state=0).fit(
        train.drop(columns=["target"]), train["target"]
    )


def reference_of(client: Client, version: int, policy: dict[str, Any]) -> Any:
    return References(client.db, client.artifacts, "cancer", Policy.parse(policy))(version)


def test_the_default_reference_calibrates_on_out_of_fold_scores(
    client: Client, halves: tuple[pd.DataFrame, pd.DataFrame]
) -> None:
    """A forest is nearly always right on its own training rows: a calibrator learnt there maps
    every confident score to 'right'. The out-of-fold one is learnt on scores of refits that
    did not see the row, so on fresh rows its estimate is close to the realized accuracy and
    its band holds it, where the in-sample one overstates it."""
    train, fresh = halves
    model = forest(train)
    snapshot = client.register_snapshot(train, "cancer-train")
    version = client.register_model("cancer", model, training_data=snapshot, target="target")
    reference = reference_of(client, version.version, {})
    assert reference.calibration["source"] == "out-of-fold"
    assert reference.calibration["rows"] == len(train)
    assert reference.calibration["folds"] == held_out.FOLDS
    assert reference.calibrator.reference_rows == len(train)

    features = fresh.drop(columns=["target"])
    prediction, score = model.predict(features), model.predict_proba(features)[:, 1]
    realized = float(np.mean(prediction == fresh["target"].to_numpy()))
    ours = estimate_performance(prediction, score, [0, 1], reference.calibrator)
    train_x = train.drop(columns=["target"])
    in_sample = fit_calibration(
        train["target"], model.predict(train_x), model.predict_proba(train_x)[:, 1], [0, 1]
    )
    naive = estimate_performance(prediction, score, [0, 1], in_sample)
    assert abs(ours.metrics["accuracy"] - realized) < abs(naive.metrics["accuracy"] - realized)
    low, high = ours.bands["accuracy"]
    assert low <= realized <= high
    assert reference.limits is not None and reference.limits.source == "out-of-fold"
    # the window records where its reference learnt from, for reports
    assert reference.summary()["calibration"]["source"] == "out-of-fold"


def test_a_held_out_snapshot_is_used_before_refits(
    client: Client, halves: tuple[pd.DataFrame, pd.DataFrame]
) -> None:
    train, fresh = halves
    snapshot = client.register_snapshot(train, "cancer-train")
    holdout = client.register_snapshot(fresh, "cancer-holdout")
    version = client.register_model(
        "cancer", forest(train), training_data=snapshot, target="target"
    )
    suite = {"suites": {"holdout": {"snapshots": [holdout.ref], "target": "target"}}}
    by_suite = reference_of(client, version.version, suite)
    assert (by_suite.calibration["source"], by_suite.calibration["snapshot"]) == (
        "evaluation holdout",
        holdout.ref,
    )
    assert by_suite.calibration["rows"] == len(fresh)
    named = reference_of(client, version.version, {"monitoring": {"reference": holdout.ref}})
    assert named.calibration["source"] == "reference" and named.snapshot == holdout.ref
    # a suite on the training data itself is no holdout: out-of-fold again
    same = {"suites": {"train": {"snapshots": [snapshot.ref], "target": "target"}}}
    assert reference_of(client, version.version, same).calibration["source"] == "out-of-fold"


def test_a_model_that_cannot_be_refit_takes_its_scores_at_their_word(
    client: Client, halves: tuple[pd.DataFrame, pd.DataFrame], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Never the in-sample map: the identity calibrator, no limits, and the reason."""
    train, _ = halves
    snapshot = client.register_snapshot(train, "cancer-train")
    version = client.register_model(
        "cancer", forest(train), training_data=snapshot, target="target"
    )

    def refuse(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("no estimator to refit")

    monkeypatch.setattr(held_out, "_refit", refuse)
    reference = reference_of(client, version.version, {})
    assert reference.calibration["source"] == "none"
    assert "no estimator to refit" in reference.calibration["note"]
    assert "monitoring.reference" in reference.calibration["note"]
    assert reference.calibrator is not None and reference.calibrator.is_identity
    assert reference.limits is None
