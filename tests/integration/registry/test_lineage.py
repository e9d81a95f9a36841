"""Lineage: data snapshots -> training run -> version -> parents, children and alias periods."""

from __future__ import annotations

import json
from typing import Any

import pandas as pd

from keel.client import Client


def test_lineage_from_data_to_aliases(
    client: Client, cancer_frame: pd.DataFrame, fitted_model: Any
) -> None:
    train = client.register_snapshot(cancer_frame.iloc[:400], "cancer-train")
    valid = client.register_snapshot(cancer_frame.iloc[400:], "cancer-valid")
    with client.start_run("train-v1", params={"C": 1.0}) as run:
        run.log_input(valid, "validation")
        run.log_metric("auc", 0.95)
        first = client.register_model("cancer", fitted_model, training_data=train, target="target")
    second = client.register_model("cancer", fitted_model, parent=1)
    third = client.register_model("cancer", fitted_model, parent=2)
    sibling = client.register_model("cancer", fitted_model, parent=1)
    client.set_alias("cancer", "champion", 1, reason="first release")
    client.set_alias("cancer", "champion", 2, reason="retrained")
    client.set_alias("cancer", "shadow", 1, reason="keep comparing")

    lineage = client.lineage("cancer/1")
    assert lineage.version == client.get_version("cancer/1")
    assert lineage.run is not None
    assert lineage.run.id == run.id == first.run_id
    assert lineage.run.params == {"C": 1.0}
    assert lineage.run.metrics == {"auc": 0.95}
    assert [(s["ref"], s["role"], s["sha256"]) for s in lineage.snapshots] == [
        ("cancer-train/1", "train", train.sha256),
        ("cancer-valid/1", "validation", valid.sha256),
    ]
    assert lineage.snapshots[0]["rows"] == 400
    assert lineage.snapshots[0]["source"] == "dataframe"
    assert lineage.parents == []
    assert lineage.children == [second.version, sibling.version]
    periods = [(p.alias, p.version, p.reason, p.end is None) for p in lineage.alias_periods]
    assert periods == [
        ("champion", 1, "first release", False),
        ("shadow", 1, "keep comparing", True),
    ]

    deepest = client.lineage("cancer", version=third.version)
    assert [p.version for p in deepest.parents] == [2, 1]
    assert deepest.children == []
    assert deepest.run is None
    assert deepest.snapshots == []
    middle = client.lineage("models:/cancer@champion")
    assert middle.version.version == 2
    assert middle.children == [3]
    assert [(p.alias, p.reason, p.end) for p in middle.alias_periods] == [
        ("champion", "retrained", None)
    ]
    json.dumps(lineage.to_dict())  # the whole answer is plain JSON
