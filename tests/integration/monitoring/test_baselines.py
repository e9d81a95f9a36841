"""Baselines in production: every labelled window scores "always the most frequent class" on the
same rows, and the default rule of every profile fires when the champion does not beat it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pandas as pd
import pytest

from keel.client import Client
from keel.domain.entities import ModelVersion
from keel.errors import InvalidInput

RULE = "accuracy beats baseline majority as warning"


def serve(client: Client, model, cancer_frame: pd.DataFrame, rows: int, seed: int):  # type: ignore[no-untyped-def]
    """Log ``rows`` predictions an hour apart-ish; returns their ids and the model's answers."""
    data = cancer_frame.sample(n=rows, replace=True, random_state=seed).drop(columns=["target"])
    start = datetime(2026, 11, 1, tzinfo=UTC) + timedelta(days=seed)
    receipt = client.log_predictions(
        "cancer",
        data,
        predictions=model.predict(data),
        scores=model.predict_proba(data)[:, 1],
        timestamps=[start + timedelta(seconds=i) for i in range(rows)],
    )
    return receipt.request_ids, model.predict(data)


def test_the_default_rule_fires_when_the_champion_loses_to_the_majority_and_resolves(
    client: Client, cancer_version: ModelVersion, cancer_frame, fitted_model
) -> None:
    policy = {"risk_profile": "low", "monitoring": {"window": {"rows": 500}}}
    ids, predicted = serve(client, fitted_model, cancer_frame, 1000, seed=1)
    # every label is 1: "always 1" is right on every row, the model only where it says 1
    client.log_labels("cancer", ids, np.ones(len(ids), dtype=int))
    first = client.monitor("cancer", policy=policy, sinks=[])
    window = client.monitor_windows("cancer")[0]
    majority = window.performance["baselines"]["majority"]
    assert majority["accuracy"] == 1.0 and majority["predicts"] == 1
    assert "persistence" not in window.performance["baselines"]  # not time-ordered data
    fired = [a for a in first.alerts if a.transition == "fired"]
    assert [a.alert.rule for a in fired] == [RULE]
    alert = client.list_alerts("cancer")[0]
    assert alert.severity == "warning"
    assert alert.value == pytest.approx(float(np.mean(predicted == 1)) - 1.0)
    assert alert.details["baseline_value"] == 1.0

    # a thousand newer rows where the labels are the model's answers: it beats the majority
    ids, predicted = serve(client, fitted_model, cancer_frame, 1000, seed=2)
    client.log_labels("cancer", ids, predicted)
    second = client.monitor("cancer", sinks=[])
    # judged as of its first new window already (half old rows, half new): resolved there
    assert [a.transition for a in second.alerts] == ["resolved"]
    assert client.list_alerts("cancer")[0].value > 0
    newest = client.monitor_windows("cancer")[0].performance
    share = max(np.mean(predicted[500:] == 1), np.mean(predicted[500:] == 0))
    assert newest["accuracy"] == 1.0
    assert newest["baselines"]["majority"]["accuracy"] == pytest.approx(share)


def test_time_ordered_data_scores_persistence_and_profiles_set_the_severity(
    client: Client, cancer_version: ModelVersion, cancer_frame, fitted_model
) -> None:
    suite = {"snapshots": ["cancer-train"], "target": "target", "time_ordered": True}
    rule = "accuracy beats baseline persistence over the last 200 labelled predictions"
    policy = {
        "risk_profile": "medium",
        "suites": {"holdout": suite},
        "gates": {"checks": ["accuracy >= 0.5"]},
        "monitoring": {"window": {"rows": 200}, "alerts": [rule]},
    }
    ids, _ = serve(client, fitted_model, cancer_frame, 200, seed=3)
    labels = np.repeat([0, 1], 100)  # long runs: the previous label is right on 199 of 200
    client.log_labels("cancer", ids, labels)
    result = client.monitor("cancer", policy=policy, sinks=[])
    baselines = client.monitor_windows("cancer")[0].performance["baselines"]
    assert baselines["persistence"]["accuracy"] == pytest.approx(198 / 199)
    assert [a.alert.rule for a in result.alerts] == [rule]  # too few rows for the default rules
    stored = client.get_policy("cancer")
    assert stored is not None
    assert "accuracy beats baseline majority as critical" in [
        r.text for r in stored.monitoring.alerts
    ]


def test_persistence_on_data_that_is_not_time_ordered_is_refused(
    client: Client, cancer_version: ModelVersion
) -> None:
    rule = "accuracy beats baseline persistence"
    with pytest.raises(InvalidInput) as caught:
        client.monitor("cancer", policy={"monitoring": {"alerts": [rule]}})
    assert caught.value.field.endswith("monitoring.alerts[0]")
    assert "time_ordered" in caught.value.problem
