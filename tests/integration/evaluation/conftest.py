"""A registered classifier, its weaker successor and a held-out snapshot with slice columns."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import pytest

from keel.client import Client

HOLDOUT_SUITE: dict[str, Any] = {
    "snapshots": ["holdout"],
    "target": "target",
    "slices": {
        "large": {"mean radius": {"ge": 15}},
        "north": {"region": "north"},
        "nowhere": {"region": "atlantis"},
    },
    "resamples": 300,
    "measure_cost": False,
}


@dataclass(frozen=True)
class Cancer:
    train: pd.DataFrame
    holdout: pd.DataFrame  # the held-out rows plus `region` and `ts`, which no model uses
    strong: Any
    weak: Any

    @property
    def features(self) -> list[str]:
        return [c for c in self.train.columns if c != "target"]


@pytest.fixture(scope="session")
def cancer(cancer_frame: pd.DataFrame) -> Cancer:
    from sklearn.compose import ColumnTransformer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    shuffled = cancer_frame.sample(frac=1.0, random_state=0).reset_index(drop=True)
    train, holdout = shuffled.iloc[:330], shuffled.iloc[330:].reset_index(drop=True)
    rng = np.random.default_rng(0)
    holdout = holdout.assign(
        region=rng.choice(["north", "south"], len(holdout)),
        ts=rng.permutation(len(holdout)),
    )
    x, y = train.drop(columns=["target"]), train["target"]
    strong = make_pipeline(StandardScaler(), LogisticRegression(C=1.0)).fit(x, y)
    # the weak model uses three features only: clearly worse, yet far better than chance
    few = ["mean texture", "mean smoothness", "mean symmetry"]
    weak = make_pipeline(
        ColumnTransformer([("few", "passthrough", few)]), StandardScaler(), LogisticRegression()
    ).fit(x, y)
    return Cancer(train, holdout, strong, weak)


@pytest.fixture
def registered(client: Client, cancer: Cancer) -> Client:
    """cancer/1 (strong, champion under no policy) and cancer/2 (weak), holdout registered."""
    train = client.register_snapshot(cancer.train, "cancer-train")
    client.register_snapshot(cancer.holdout, "holdout")
    client.register_model("cancer", cancer.strong, training_data=train, target="target")
    client.register_model("cancer", cancer.weak, training_data=train, target="target")
    client.set_alias("cancer", "champion", 1, reason="first")
    return client
