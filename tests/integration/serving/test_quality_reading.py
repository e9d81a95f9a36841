"""What ``/metrics`` reports about model quality, read from a real store (SQLite and
PostgreSQL): only served versions, realized figures from the newest labelled window, estimates
and drift from the newest window, the policy's main metric and the margin over the baseline."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from keel.client import Client
from keel.domain.policy import Policy
from keel.serving.quality import baseline_margin, main_metric, read_quality
from tests.integration.serving.quality_rows import T0, store_alert, store_window


def test_served_versions_report_their_newest_figures(client: Client, fitted_model: Any) -> None:
    for _ in range(3):
        client.register_model("fraud", fitted_model)
    client.set_alias("fraud", "champion", 2, reason="release")
    db = client.db
    labelled = {
        "rows": 400,
        "accuracy": 0.81,
        "roc_auc": 0.9,
        "baselines": {"majority": {"accuracy": 0.7, "rows": 400}},
        "label_drift": {"drifted": False},
    }
    store_window(db, "fraud", 1, end=T0 + timedelta(hours=9), performance=labelled)  # retired
    store_window(
        db, "fraud", 2, end=T0 + timedelta(hours=1), performance=labelled, labelled_rows=400
    )
    store_window(  # newer, no labels yet: estimates and drift come from here
        db,
        "fraud",
        2,
        end=T0 + timedelta(hours=2),
        estimate={"metrics": {"accuracy": 0.76, "roc_auc": 0.85}},
        drifted=["amount", "country"],
    )
    store_alert(db, "fraud", "critical", "firing", "accuracy < 0.9")
    store_alert(db, "fraud", "warning", "acknowledged", "drifted_features >= 1")
    store_alert(db, "fraud", "warning", "resolved", "accuracy < 0.5")

    reading = read_quality(db)
    [quality] = reading.versions  # version 1 and 3 do not serve
    assert (quality.model, quality.version) == ("fraud", 2)
    assert quality.realized == {"accuracy": 0.81, "roc_auc": 0.9}
    assert quality.labelled_rows == 400
    assert quality.realized_end == T0 + timedelta(hours=1)
    assert quality.estimated == {"accuracy": 0.76, "roc_auc": 0.85}
    assert quality.newest_end == T0 + timedelta(hours=2)
    assert quality.drifted_features == 2
    assert quality.main_metric == "accuracy"
    assert quality.baseline == "majority"
    assert quality.baseline_margin == pytest.approx(0.11)
    assert reading.open_alerts[("fraud", "critical", "firing")] == 1
    assert reading.open_alerts[("fraud", "warning", "acknowledged")] == 1
    assert reading.open_alerts[("fraud", "warning", "firing")] == 0  # resolved ones not counted

    client.set_policy("fraud", Policy.parse({"gates": {"checks": ["roc_auc >= 0.8"]}}))
    [gated] = read_quality(db).versions
    assert gated.main_metric == "roc_auc"  # the metric the policy gates on
    assert gated.baseline is None  # the window's baselines do not score roc_auc


def test_a_served_version_never_monitored_is_listed_without_figures(
    client: Client, fitted_model: Any
) -> None:
    client.register_model("quiet", fitted_model)
    client.set_alias("quiet", "champion", 1, reason="release")
    [quality] = read_quality(client.db).versions
    assert quality.realized == {} and quality.newest_end is None and quality.main_metric is None


def test_main_metric_falls_back_to_what_was_measured() -> None:
    alerted = Policy.parse({"monitoring": {"alerts": ["estimated_f1 < 0.5"]}})
    assert main_metric(alerted, {}, {"f1": 0.6, "accuracy": 0.7}) == "f1"
    assert main_metric(alerted, {"accuracy": 0.7}, {}) == "accuracy"  # f1 was not measured
    assert main_metric(None, {"rmse": 3.0, "mae": 2.0}, {}) == "rmse"
    assert main_metric(None, {}, {}) is None


def test_the_margin_is_positive_when_the_model_beats_the_baseline() -> None:
    regression = {"rmse": 3.0, "baselines": {"mean": {"rmse": 5.0}}}
    assert baseline_margin(regression, "rmse") == ("mean", 2.0)  # lower is better: flipped
    worse = {"accuracy": 0.6, "baselines": {"majority": {"accuracy": 0.7}}}
    name, margin = baseline_margin(worse, "accuracy")
    assert name == "majority" and margin == pytest.approx(-0.1)
    assert baseline_margin({"accuracy": 0.6}, "accuracy") == (None, None)  # no baselines yet
