"""Multi-class comparisons, scikit-learn's own tree types, and approvals without gates."""

from __future__ import annotations

import pandas as pd
import pytest

from keel.client import Client
from keel.errors import GateFailed


@pytest.fixture(scope="module")
def iris() -> pd.DataFrame:
    from sklearn.datasets import load_iris

    features, target = load_iris(return_X_y=True, as_frame=True)
    return features.assign(target=target).sample(frac=1.0, random_state=0).reset_index(drop=True)


def _register_pair(client: Client, iris: pd.DataFrame) -> None:
    from sklearn.linear_model import LogisticRegression
    from sklearn.tree import DecisionTreeClassifier

    features = iris.drop(columns=["target"])
    client.register_snapshot(iris, "iris-holdout")
    strong = LogisticRegression(max_iter=1000).fit(features, iris["target"])
    stump = DecisionTreeClassifier(max_depth=1, random_state=0).fit(features, iris["target"])
    client.register_model("iris", strong, training_data=iris, target="target")
    client.register_model("iris", stump, training_data=iris, target="target")


def test_tree_models_load_and_multiclass_comparisons_get_intervals(client: Client, iris) -> None:
    _register_pair(client, iris)
    # a decision tree holds sklearn.tree._tree.Tree, which skops alone does not trust
    assert client.load_model("iris/2").predict(iris.drop(columns=["target"])).shape == (150,)
    client.set_alias("iris", "champion", 2)
    policy = {
        "risk_profile": "high",
        "suites": {"r": {"snapshots": ["iris-holdout"], "target": "target", "resamples": 300}},
        "gates": {
            "checks": ["accuracy >= 0.9", "accuracy not worse than champion by more than 0.05"]
        },
    }
    evaluation, outcome = client.gate("iris/1", policy=policy)
    difference = evaluation.snapshot()["comparison"]["differences"]["accuracy"]
    assert difference["difference"] > 0.2  # a one-level stump tells at most two species apart
    low, high = difference["ci95"]
    assert low < difference["difference"] < high
    assert outcome.verdict == "blessed", outcome.reasons


def test_required_approval_is_enforced_without_gates(client: Client, iris) -> None:
    _register_pair(client, iris)
    client.set_policy("iris", {"risk_profile": "low", "promotion": {"require_approval": True}})
    with pytest.raises(GateFailed, match="no recorded approval"):
        client.set_alias("iris", "champion", 1)
    client.approve("iris/1", reason="reviewed the confusion matrix")
    assert client.set_alias("iris", "champion", 1).version == 1


def test_lineage_answers_why_a_version_was_promoted(client: Client, iris) -> None:
    _register_pair(client, iris)
    policy = {
        "risk_profile": "medium",
        "suites": {"r": {"snapshots": ["iris-holdout"], "target": "target", "resamples": 0}},
        "gates": {"checks": ["accuracy >= 0.9"]},
        "promotion": {"require_approval": True},
    }
    client.gate("iris/1", policy=policy)
    client.approve("iris/1", reason="looked at the slices")
    client.set_alias("iris", "champion", 1, reason="blessed and approved")
    graph = client.lineage("iris/1").to_dict()
    assert [g["verdict"] for g in graph["gates"]] == ["blessed"]
    assert graph["gates"][0]["risk_profile"] == "medium"
    assert [(a["approver"], a["reason"]) for a in graph["approvals"]] == [
        ("tester", "looked at the slices")
    ]
    assert graph["alias_periods"][0]["reason"] == "blessed and approved"
