"""Honest guards: a retrain with no labelled row its champion has not seen is held, not gated on
noise; a ``low`` policy without gate checks promotes a candidate that beats the trivial
baselines (and rejects one that does not)."""

from __future__ import annotations

import copy
from datetime import timedelta
from typing import Any

import numpy as np

from keel.client import Client
from keel.controller.autopilot_status import autopilot_status
from keel.web.dashboard.model_view import model_page

from .scenario import POLICY, START, batch, launch, log_rows_with_labels, log_served, serve

MODEL = "risk"
HELD = "held: no labelled row the champion has not seen"


def _low(**training: Any) -> dict[str, Any]:
    """The scenario's policy under the ``low`` profile, without gate checks."""
    policy = copy.deepcopy(POLICY)
    policy["risk_profile"] = "low"
    policy["gates"] = {"checks": []}
    policy["retraining"]["training"].update(training)
    return policy


def test_a_retrain_with_no_new_labelled_row_is_held_until_labels_arrive(store: Client) -> None:
    launch(store, MODEL)
    for hour in range(3):
        serve(store, MODEL, 200, 10 + hour, flipped=True, at=START + timedelta(hours=hour))
    now = START + timedelta(hours=3)
    first = store.retrain(MODEL, reason="the concept flipped", now=now)
    assert first[-1].action == "promoted", [d.to_dict() for d in first]
    champion = store.get_version(f"models:/{MODEL}@champion")
    versions = len(store.list_versions(MODEL))

    # v2 was trained on these very rows: a second retrain would learn nothing new
    again = store.retrain(MODEL, reason="again", now=now + timedelta(minutes=5))
    assert [d.action for d in again] == ["retrain", "held"]
    held = store.retrains(MODEL)[0]
    assert held.state == "held" and held.ended_at is not None
    assert held.candidate_version is None and held.pipeline_run_id is None
    assert str(held.outcome).startswith(HELD)
    assert f"window of retrain #{first[0].retrain}, which made v{champion.version}" in str(
        held.outcome
    )
    assert held.details["novelty"]["unseen"] == 0 and held.details["novelty"]["rows"] == 420
    assert len(store.list_versions(MODEL)) == versions  # no candidate trained, none gated
    assert store.get_version(f"models:/{MODEL}@champion").version == champion.version

    # newer predictions whose labels have not arrived yet change nothing
    late = now + timedelta(minutes=10)
    log_served(store, MODEL, batch(300, 77, flipped=True), late)
    still = store.retrain(MODEL, reason="labels pending", now=late + timedelta(seconds=30))
    assert still[-1].action == "held"

    # once they arrive, the retrain has rows to learn from and goes on to the gates
    arrived = late + timedelta(minutes=10)
    went_on = store.retrain(MODEL, reason="labels arrived", now=arrived)
    assert [d.action for d in went_on][:2] == ["retrain", "train"], [d.to_dict() for d in went_on]
    assert store.retrains(MODEL)[0].state in ("promoted", "rejected")


def test_a_retrain_of_a_launched_champion_with_no_labels_is_held(store: Client) -> None:
    launch(store, MODEL)
    decisions = store.retrain(MODEL, reason="nothing logged yet", now=START)
    assert [d.action for d in decisions] == ["retrain", "held"]
    assert "no labelled production row to train on, only what v1 was trained on" in (
        decisions[-1].reason
    )
    assert len(store.list_versions(MODEL)) == 1


def test_a_low_policy_without_gate_checks_promotes_a_candidate_that_beats_the_baselines(
    store: Client,
) -> None:
    launch(store, MODEL, _low())
    for hour in range(3):
        serve(store, MODEL, 200, 10 + hour, flipped=True, at=START + timedelta(hours=hour))
    decisions = store.retrain(MODEL, reason="flipped", now=START + timedelta(hours=3))
    assert [d.action for d in decisions] == ["retrain", "train", "blessed", "promoted"], [
        d.to_dict() for d in decisions
    ]
    retrain = store.retrains(MODEL)[0]
    assert (
        "the policy declares no gates, so the candidate must beat the trivial baselines: "
        "accuracy beats baseline majority"
    ) in retrain.details["gate"]["reasons"]
    new = int(retrain.candidate_version or 0)
    assert store.get_version(f"models:/{MODEL}@champion").version == new
    gated = retrain.details.get("gated_version", new)  # the version a refit refits
    [record] = store.gate_history(f"{MODEL}/{gated}")
    assert record.verdict == "blessed"
    assert [c["gate"] for c in record.checks] == ["accuracy beats baseline majority"]
    assert record.checks[0]["value"] > 0.85


def test_a_low_policy_without_gate_checks_rejects_a_candidate_no_better_than_the_majority(
    store: Client,
) -> None:
    launch(store, MODEL, _low())
    rng = np.random.default_rng(5)
    rows = batch(600, 41, flipped=True)[["x0", "x1"]]
    noise = (rng.random(len(rows)) < 0.2).astype(int)  # labels unrelated to the features
    log_rows_with_labels(store, MODEL, rows, noise, START)
    decisions = store.retrain(MODEL, reason="noise", now=START + timedelta(hours=1))
    assert [d.action for d in decisions] == ["retrain", "train", "rejected"], [
        d.to_dict() for d in decisions
    ]
    retrain = store.retrains(MODEL)[0]
    assert retrain.state == "rejected"
    assert "accuracy beats baseline majority on" in str(retrain.outcome)
    assert store.get_version(f"models:/{MODEL}@champion").version == 1


def _below_the_majority(store: Client) -> None:
    """A champion that answers the old concept while nine labels in ten are 1: "always 1"
    beats it on its labelled predictions."""
    policy = copy.deepcopy(POLICY)
    policy["retraining"]["triggers"] = []  # only the monitoring is under test
    launch(store, MODEL, policy)
    frame = batch(1200, 21, flipped=False)  # the rule reads the newest 1,000 labelled
    labels = (np.random.default_rng(3).random(len(frame)) < 0.9).astype(int)
    log_served(store, MODEL, frame.assign(y=labels), START)


def test_a_champion_below_the_majority_raises_the_baseline_alert_and_the_status_says_so(
    store: Client,
) -> None:
    _below_the_majority(store)
    decisions = store.autopilot(now=START + timedelta(hours=1))
    assert [d.action for d in decisions] == ["monitor", "idle"]
    [alert] = store.list_alerts(MODEL, state="open")
    assert alert.rule == "accuracy beats baseline majority as warning"
    assert alert.value is not None and alert.value < 0
    assert alert.details["baseline"] == "majority" and alert.details["baseline_value"] > 0.85

    [status] = autopilot_status(store.services)
    assert (status.model, status.champion, status.in_flight) == (MODEL, 1, None)
    assert [a.id for a in status.open_alerts] == [alert.id]
    assert status.baseline is not None
    assert status.baseline.startswith(
        "the champion v1 does not beat the majority baseline on its labelled predictions: "
        f"accuracy {alert.details['model']:.4g} against {alert.details['baseline_value']:.4g}"
    )
    assert f"alert #{alert.id}, warning" in status.baseline
    assert status.to_dict()["baseline"] == status.baseline
    assert model_page(store.services, MODEL)["baseline"] == status.baseline  # the dashboard's


def test_the_status_of_a_healthy_champion_calls_out_nothing(store: Client) -> None:
    launch(store, MODEL)
    serve(store, MODEL, 200, 10, flipped=False, at=START)
    store.autopilot(now=START + timedelta(hours=1))
    [status] = autopilot_status(store.services, [MODEL])
    assert status.baseline is None and status.open_alerts == ()
    assert status.last_retrain is None and status.risk_profile == "low"


def test_after_a_held_retrain_a_trigger_waits_for_a_new_label(store: Client) -> None:
    # a trigger that needs no label fires on unlabelled traffic: without the wait, every pass
    # would start a retrain that is held again at once
    policy = copy.deepcopy(POLICY)
    policy["retraining"]["triggers"] = ["drifted_features >= 0"]
    launch(store, MODEL, policy)
    rows = batch(300, 5, flipped=True)[["x0", "x1"]]
    stamps = [START + timedelta(seconds=i) for i in range(len(rows))]
    store.log_predictions(
        MODEL, rows, predictions=np.zeros(len(rows), dtype=int), timestamps=stamps
    )
    first = store.autopilot(models=[MODEL], now=START + timedelta(hours=1))
    assert [d.action for d in first][-2:] == ["retrain", "held"], [d.to_dict() for d in first]
    second = store.autopilot(models=[MODEL], now=START + timedelta(hours=2))
    assert second[-1].action == "hold", [d.to_dict() for d in second]
    assert "was held and no label has arrived since" in second[-1].reason
    assert len(store.retrains(MODEL)) == 1
