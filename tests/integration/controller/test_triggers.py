"""Each kind of trigger fires a retrain with what it saw in the reason: a label-free estimate,
a firing drift alert, a cron schedule counted from the last retrain, and a champion that has
served ``max_age`` since the last retrain."""

from __future__ import annotations

import copy
from datetime import timedelta
from typing import Any

import numpy as np
import pytest

from keel.client import Client

from .scenario import (
    POLICY,
    START,
    ahead_of_the_wall_clock,
    batch,
    launch,
    log_rows_with_labels,
    log_served,
)

MODEL = "risk"


def _policy(**retraining: Any) -> dict[str, Any]:
    policy = copy.deepcopy(POLICY)
    policy["retraining"].update(retraining)
    return policy


def test_a_falling_label_free_estimate_fires_a_retrain(store: Client) -> None:
    launch(store, MODEL, _policy(triggers=["estimated_accuracy < 0.9"]))
    at = START
    for hour, scale in enumerate([1.0, 1.0, 0.02]):  # then the inputs crowd the boundary
        frame = batch(200, 10 + hour, flipped=False)
        frame[["x0", "x1"]] *= scale
        log_served(store, MODEL, frame, at)
        at += timedelta(hours=1)
        decisions = store.autopilot(now=at)
        if hour < 2:
            assert [d.action for d in decisions] == ["monitor", "idle"]
    fired = next(d for d in decisions if d.action == "retrain")
    assert fired.reason.startswith("estimated_accuracy < 0.9: estimated_accuracy = ")
    [retrain] = store.retrains(MODEL)
    assert retrain.trigger == "estimated_accuracy < 0.9"
    assert retrain.details["value"] < 0.9
    assert f"estimated_accuracy = {retrain.details['value']:.4f} (champion v1)" in retrain.reason
    newest = store.monitor_windows(MODEL, limit=1)[0]
    assert newest.estimate["metrics"]["accuracy"] == retrain.details["value"]


def test_a_drift_alert_fires_a_retrain_naming_the_alert(store: Client) -> None:
    policy = _policy(triggers=["drift alert"])
    policy["monitoring"]["alerts"] = ["drifted_features >= 1"]
    launch(store, MODEL, policy)
    at = ahead_of_the_wall_clock()  # alerts count from the champion's (real) creation time
    log_served(store, MODEL, batch(200, 10, flipped=False), at)
    calm = store.autopilot(now=at + timedelta(hours=1))
    assert [d.action for d in calm] == ["monitor", "idle"]
    shifted = batch(200, 11, flipped=False)
    shifted["x0"] += 3.0
    log_served(store, MODEL, shifted, at + timedelta(hours=1))
    decisions = store.autopilot(now=at + timedelta(hours=2))
    assert "1 alerts fired" in decisions[0].reason
    [alert] = store.list_alerts(MODEL, state="open")
    assert alert.rule == "drifted_features >= 1"
    fired = next(d for d in decisions if d.action == "retrain")
    assert fired.reason.startswith(f"drift alert: alert #{alert.id} firing: ")
    [retrain] = store.retrains(MODEL)
    assert retrain.trigger == "drift alert" and retrain.details["alert"] == alert.id
    assert alert.message in retrain.reason


def test_a_schedule_fires_once_per_scheduled_time_after_the_last_retrain(store: Client) -> None:
    launch(store, MODEL, _policy(triggers=[], schedule="0 * * * *"))
    start = ahead_of_the_wall_clock()  # the first time counts from the champion's creation
    log_served(store, MODEL, batch(200, 10, flipped=False), start - timedelta(minutes=30))
    first = store.autopilot(now=start)
    fired = next(d for d in first if d.action == "retrain")
    assert fired.reason.startswith("schedule: scheduled time ")
    assert "(0 * * * *) passed" in fired.reason
    actions = [
        [d.action for d in store.autopilot(now=start + timedelta(minutes=minutes))]
        for minutes in (1, 30, 59)
    ]
    assert actions == [["monitor", "idle"]] * 3
    again = store.autopilot(now=start + timedelta(hours=1))
    fired = next(d for d in again if d.action == "retrain")
    due = (start + timedelta(hours=1)).isoformat()
    assert fired.reason == f"schedule: scheduled time {due} (0 * * * *) passed"
    assert [r.trigger for r in store.retrains(MODEL)] == ["schedule", "schedule"]
    assert [r.created_at for r in store.retrains(MODEL)] == [start + timedelta(hours=1), start]


def test_max_age_fires_when_the_champion_has_served_that_long_since_the_last_retrain(
    store: Client,
) -> None:
    launch(store, MODEL, _policy(triggers=[], max_age="2h"))
    start = ahead_of_the_wall_clock(hours=3)  # the first age counts from the real launch
    log_served(store, MODEL, batch(200, 10, flipped=False), start - timedelta(minutes=30))
    fired = next(d for d in store.autopilot(now=start) if d.action == "retrain")
    assert fired.reason.startswith("max_age: ") and " since v1 took over (" in fired.reason
    assert fired.reason.endswith("), max_age 2h")
    # from the retrain on, the age restarts: not yet at 1h59m, again at 2h
    for minutes in (1, 60, 119):
        actions = [d.action for d in store.autopilot(now=start + timedelta(minutes=minutes))]
        assert actions == ["monitor", "idle"], minutes
    again = next(
        d for d in store.autopilot(now=start + timedelta(hours=2)) if d.action == "retrain"
    )
    assert again.reason == (
        f"max_age: 2:00:00 since the last retrain started ({start.isoformat()}), max_age 2h"
    )
    retrains = store.retrains(MODEL)
    assert [r.trigger for r in retrains] == ["max_age", "max_age"]
    assert retrains[0].details["age_s"] == 2 * 3600
    assert [r.created_at for r in retrains] == [start + timedelta(hours=2), start]


def test_after_a_rejection_the_trigger_waits_for_new_labels(store: Client) -> None:
    policy = _policy(triggers=["accuracy < 0.8 over the last 200 labelled predictions"])
    policy["gates"] = {"checks": ["accuracy >= 0.999"]}  # no candidate can pass
    launch(store, MODEL, policy)
    log_served(store, MODEL, batch(200, 10, flipped=True), START)
    first = store.autopilot(now=START + timedelta(hours=1))
    assert [d.action for d in first][-1] == "rejected"
    # nothing new: the same rows would make the same rejected candidate
    again = store.autopilot(now=START + timedelta(hours=2))
    [hold] = [d for d in again if d.action == "hold"]
    assert "retrain #1 was rejected and no label has arrived since" in hold.reason
    assert len(store.retrains(MODEL)) == 1
    log_served(store, MODEL, batch(200, 11, flipped=True), START + timedelta(hours=2))
    news = store.autopilot(now=START + timedelta(hours=3))
    assert "retrain" in [d.action for d in news]
    assert len(store.retrains(MODEL)) == 2


def test_a_champion_a_constant_beats_fires_a_retrain_naming_the_margin(store: Client) -> None:
    rule = "accuracy beats baseline majority over the last 200 labelled predictions"
    launch(store, MODEL, _policy(triggers=[rule]))
    frame = batch(200, 30, flipped=False)
    labels = (np.arange(200) % 10 < 7).astype(int)  # 70% ones; the logged predictions are 0
    log_rows_with_labels(store, MODEL, frame[["x0", "x1"]], labels, START)
    decisions = store.autopilot(now=START + timedelta(hours=1))
    assert "retrain" in [d.action for d in decisions]
    [retrain] = store.retrains(MODEL)
    assert retrain.trigger == rule
    assert retrain.details["value"] == pytest.approx(0.3 - 0.7)
    assert retrain.details["baseline_value"] == pytest.approx(0.7)
    assert "accuracy -0.4000 against the majority baseline (champion v1)" in retrain.reason
