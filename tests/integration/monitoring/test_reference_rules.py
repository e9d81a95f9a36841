"""Rules with no number typed: ``accuracy below reference`` and ``estimated_roc_auc below
reference`` take their limit from the version's held-out reference at the observed size, fire
when the model really gets worse, say how the limit came about, and show in the report; the
medium and high profiles carry them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import pandas as pd

from keel.client import Client
from keel.domain.entities import ModelVersion
from keel.domain.policy import Policy
from keel.monitoring.labelling import read_labels
from keel.monitoring.observations import Observer
from keel.monitoring.reference_limits import SIGMAS
from keel.monitoring.report_page import to_html
from keel.monitoring.runner import References

RULES = [
    "accuracy below reference over the last 200 labelled predictions",
    "estimated_accuracy below reference",
    "estimated_roc_auc below reference over the last 2 windows",
]
POLICY: dict[str, Any] = {
    "monitoring": {"window": {"rows": 100}, "alerts": RULES, "baseline_alerts": "off"}
}


def log(client: Client, model: Any, data: pd.DataFrame, start: datetime) -> list[str]:
    receipt = client.log_predictions(
        "cancer",
        data,
        predictions=model.predict(data),
        scores=model.predict_proba(data)[:, 1],
        timestamps=[start + timedelta(seconds=i) for i in range(len(data))],
    )
    return receipt.request_ids


def test_reference_rules_observe_limits_fire_on_a_drop_and_show_in_the_report(
    client: Client, cancer_version: ModelVersion, cancer_frame: pd.DataFrame, fitted_model: Any
) -> None:
    sample = cancer_frame.sample(n=300, replace=True, random_state=4).reset_index(drop=True)
    ids = log(
        client, fitted_model, sample.drop(columns=["target"]), datetime(2026, 11, 5, tzinfo=UTC)
    )
    client.log_labels("cancer", ids, sample["target"].to_numpy())
    calm = client.monitor("cancer", policy=POLICY, sinks=[])
    assert len(calm.windows) == 3 and calm.alerts == []

    policy = Policy.parse(POLICY)
    references = References(client.db, client.artifacts, "cancer", policy)
    labels = read_labels(client.logs, "cancer")
    observe = Observer(client.db, client.artifacts, "cancer", labels, references)
    for rule in policy.monitoring.alerts:
        seen = observe(rule)
        assert seen is not None and seen.limit is not None, rule.text
        assert seen.value >= seen.limit, (rule.text, seen)
        explained = seen.details["reference"]
        assert explained["source"] == "out-of-fold" and explained["sigmas"] == SIGMAS
        assert explained["limit"] == seen.limit
    realized = observe(policy.monitoring.alerts[0])
    assert realized is not None and realized.details["reference"]["window_rows"] == [200]
    auc = observe(policy.monitoring.alerts[2])
    assert auc is not None and auc.details["reference"]["window_rows"] == [100, 100]

    # the labels of the same rows arrive corrected: a third were wrong, accuracy falls
    wrong = np.arange(len(ids)) % 3 == 0
    truth = sample["target"].to_numpy()
    client.log_labels("cancer", ids, np.where(wrong, 1 - truth, truth))
    dropped = client.monitor("cancer", sinks=[])
    fired = {a.alert.rule: a.alert for a in dropped.alerts if a.transition == "fired"}
    assert set(fired) == {RULES[0]}  # the scores did not change: the estimates hold
    alert = fired[RULES[0]]
    assert alert.value is not None and alert.threshold is not None
    assert alert.value < alert.threshold < 1.0
    assert alert.details["reference"]["limit"] == alert.threshold

    # the same sentence as a retrain trigger fires on the champion's own predictions
    from keel.controller.triggers import consider

    with_trigger = Policy.parse({**POLICY, "retraining": {"triggers": [RULES[0]]}})
    verdict = consider(
        client, "cancer", with_trigger, cancer_version.version, datetime(2026, 11, 6, tzinfo=UTC)
    )
    assert verdict.trigger == RULES[0] and verdict.details["reference"]["source"] == "out-of-fold"

    report = client.monitor_report("cancer")
    limits = report.reference_limits[0]
    assert limits["calibration"]["source"] == "out-of-fold"
    assert {m["metric"] for m in limits["metrics"]} >= {"accuracy", "roc_auc"}
    line = next(t for t in report.thresholds if t["label"].startswith(RULES[1]))
    assert len(line["values"]) == 3 and all(0.5 < v < 1.0 for v in line["values"])
    page = to_html(report)
    assert "Reference limits" in page and "out-of-fold" in page


def test_the_medium_and_high_profiles_alert_with_no_number_typed() -> None:
    for profile in ("medium", "high"):
        gates = {"checks": ["accuracy >= 0.5"]}
        if profile == "high":
            gates["checks"].append("accuracy not worse than champion by more than 0.01")
        rules = Policy.parse({"risk_profile": profile, "gates": gates}).monitoring.alerts
        reference = [r for r in rules if r.against == "reference"]
        assert {r.metric for r in reference} >= {"accuracy", "rmse", "estimated_accuracy"}
        assert all(r.threshold is None for r in reference)
    # a typed accuracy threshold is still added beside the reference rule
    typed = Policy.parse(
        {
            "risk_profile": "medium",
            "gates": {"checks": ["accuracy >= 0.5"]},
            "monitoring": {"accuracy_threshold": 0.8},
        }
    ).monitoring.alerts
    assert any(r.text == "accuracy < 0.8" for r in typed)
