"""Naive baselines on real data: a model must be seen to beat them (bank marketing, Elec2)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from keel.client import Client
from keel.settings import Settings

pytestmark = pytest.mark.shared_data


@pytest.fixture
def sqlite_client(tmp_path: Path) -> Iterator[Client]:
    settings = Settings(
        store_url=f"sqlite:///{tmp_path / 'keel.db'}",
        artifacts=str(tmp_path / "artifacts"),
        actor="tester",
    )
    with Client(settings=settings) as made:
        yield made


@pytest.fixture(scope="module")
def bank(shared_data: Path) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Train and held-out rows; `duration` is known only after the call and `y` is the label."""
    frame = pd.read_csv(shared_data / "bank_marketing" / "bank_additional_full.csv")
    frame = frame.drop(columns=["duration", "y", "row_id", "year_derived", "year_month_derived"])
    # rows are in date order and the subscription rate climbs from 5 % to 50 % after 2008, so
    # the file's own tail is mostly a different population: hold out the tail of a shuffle
    shuffled = frame.sample(frac=1.0, random_state=0).reset_index(drop=True)
    return shuffled.iloc[:12_000], shuffled.iloc[-8_000:].reset_index(drop=True)


def bank_policy(check: str) -> dict[str, object]:
    return {
        "suites": {
            "holdout": {
                "snapshots": ["bank-holdout"],
                "target": "target",
                "resamples": 0,
                "measure_cost": False,
            }
        },
        "gates": {"checks": [check]},
    }


def test_bank_majority_baseline_and_a_model_that_does_not_beat_it(
    sqlite_client: Client, bank: tuple[pd.DataFrame, pd.DataFrame]
) -> None:
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    train, holdout = bank
    client = sqlite_client
    client.register_snapshot(holdout, "bank-holdout")
    numeric = [c for c in train.select_dtypes("number").columns if c != "target"]
    useful = make_pipeline(StandardScaler(), LogisticRegression()).fit(
        train[numeric], train["target"]
    )
    # age alone, re-weighted to predict "yes" often: worse than always saying "no"
    useless = LogisticRegression(class_weight="balanced").fit(train[["age"]], train["target"])
    for model, columns in ((useful, numeric), (useless, ["age"])):
        client.register_model("bank", model, input_example=holdout[columns].head())

    rules = bank_policy("accuracy beats baseline majority")
    evaluation, outcome = client.gate("bank/2", policy=rules)
    majority = evaluation.snapshot()["baselines"]["majority"]
    assert majority["predicts"] == 0
    assert 0.86 <= majority["accuracy"] <= 0.90
    assert majority["accuracy"] == pytest.approx(1 - holdout["target"].mean())
    assert outcome.verdict == "rejected"
    accuracy = evaluation.snapshot()["metrics"]["accuracy"]
    assert accuracy < majority["accuracy"]
    assert outcome.reasons == [
        f"accuracy beats baseline majority on bank-holdout/1: {accuracy:.4g} "
        f"(majority scores {majority['accuracy']:.4g})"
    ]
    _, good = client.gate("bank/1", policy=rules)
    assert good.blessed, good.reasons


@pytest.fixture(scope="module")
def elec2(shared_data: Path) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Row order is time; `date` is not monotonic; `nswprice` (and `class`) define the label."""
    frame = pd.read_csv(shared_data / "elec2" / "elec2.csv")
    frame = frame.drop(columns=["date", "nswprice", "class", "timestamp_reconstructed"])
    cut = int(len(frame) * 0.7)
    return frame.iloc[:cut], frame.iloc[cut:].reset_index(drop=True)


def test_elec2_persistence_is_hard_to_beat(
    sqlite_client: Client, elec2: tuple[pd.DataFrame, pd.DataFrame]
) -> None:
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    train, holdout = elec2
    client = sqlite_client
    client.register_snapshot(holdout, "elec2-recent")
    features = ["day", "period", "nswdemand", "vicprice", "vicdemand", "transfer"]
    model = make_pipeline(StandardScaler(), LogisticRegression()).fit(
        train[features], train["target_up"]
    )
    client.register_model("elec2", model, input_example=holdout[features].head())
    rules = {
        "suites": {
            "recent": {
                "snapshots": ["elec2-recent"],
                "target": "target_up",
                "time_column": "row_id",
                "resamples": 0,
                "measure_cost": False,
            }
        },
        "gates": {"checks": ["accuracy beats baseline persistence", "accuracy >= 0.6"]},
    }
    evaluation, outcome = client.gate("elec2/1", policy=rules)
    snap = evaluation.snapshot()
    persistence = snap["baselines"]["persistence"]
    y = holdout["target_up"].to_numpy()
    assert persistence["rows"] == len(holdout) - 1
    assert persistence["accuracy"] == pytest.approx(np.mean(y[1:] == y[:-1]))
    assert 0.84 <= persistence["accuracy"] <= 0.87
    assert snap["metrics"]["accuracy"] >= 0.6
    assert snap["metrics"]["accuracy"] < persistence["accuracy"]
    assert [c["passed"] for c in outcome.checks] == [False, True]
    assert outcome.verdict == "rejected"
    assert outcome.reasons[0].startswith("accuracy beats baseline persistence on elec2-recent/1")
