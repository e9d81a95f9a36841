"""Guards hold a fired trigger back (min_interval, max_per_day, min_new_labels), saying which;
a manual retrain needs no trigger and passes the guards, but still one at a time."""

from __future__ import annotations

import copy
from datetime import datetime, timedelta
from typing import Any

import pytest

from keel.client import Client
from keel.controller.autopilot import Decision
from keel.controller.triggers import consider
from keel.domain.policy import Policy
from keel.errors import Conflict, InvalidInput, NotFound

from .scenario import POLICY, START, batch, launch, log_served, serve

MODEL = "risk"
TRIGGER = POLICY["retraining"]["triggers"][0]


def _policy(**retraining: Any) -> dict[str, Any]:
    policy = copy.deepcopy(POLICY)
    policy["retraining"].update(retraining)
    return policy


def _hour(client: Client, hour: int, *, flipped: bool = True) -> list[Decision]:
    """An hour of traffic (flipped from hour 2 on by default), then a pass at its end."""
    serve(
        client,
        MODEL,
        200,
        10 + hour,
        flipped=flipped and hour >= 2,
        at=START + timedelta(hours=hour),
    )
    return client.autopilot(now=START + timedelta(hours=hour + 1))


def _fires_at(client: Client, now: datetime) -> bool:
    policy = client.get_policy(MODEL)
    assert policy is not None
    return consider(client, MODEL, policy, 1, now).fire


def test_min_interval_holds_a_fired_trigger_until_it_has_passed(store: Client) -> None:
    launch(store, MODEL, _policy(min_interval="3h"))
    for hour in range(3):
        _hour(store, hour)
    assert [r.state for r in store.retrains(MODEL)] == ["rejected"]  # too little fresh data
    first = store.retrains(MODEL)[0]
    assert first.created_at == START + timedelta(hours=3)
    held = _hour(store, 3)[-1]
    assert held.action == "hold" and held.retrain is None
    assert held.reason.startswith(f"{TRIGGER} (accuracy = ")
    assert "held by min_interval: the last retrain was 1:00:00 ago, 3:00:00 needed" in held.reason
    assert held.details["value"] < 0.8
    assert len(store.retrains(MODEL)) == 1
    assert not _fires_at(store, START + timedelta(hours=5, minutes=59))
    assert _fires_at(store, START + timedelta(hours=6))


def test_max_per_day_holds_a_fired_trigger_for_a_day(store: Client) -> None:
    launch(store, MODEL, _policy(max_per_day=1))
    for hour in range(3):
        _hour(store, hour)
    assert len(store.retrains(MODEL)) == 1
    for hour in (3, 4):
        held = _hour(store, hour)[-1]
        assert held.action == "hold"
        assert held.reason.endswith("held by max_per_day: 1 retrains in the last 24 hours")
    assert len(store.retrains(MODEL)) == 1
    assert not _fires_at(store, START + timedelta(hours=26))
    assert _fires_at(store, START + timedelta(hours=27, seconds=1))


def test_min_new_labels_counts_the_labels_since_the_last_retrain(store: Client) -> None:
    policy = _policy(min_new_labels=700)
    # one setup, all rows: its candidate is rejected, so the champion keeps firing the trigger
    # (choosing the newest rows would fix the champion and end the story early)
    policy["retraining"]["training"] = {
        **policy["retraining"]["training"],
        "selection": {"enabled": False},
    }
    launch(store, MODEL, policy)
    for hour in range(3):
        decisions = _hour(store, hour)
    held = decisions[-1]
    assert held.action == "hold"
    assert held.reason.endswith(
        "held by min_new_labels: 600 labelled since the last retrain, 700 needed"
    )
    assert held.details["new_labels"] == 600
    fired = _hour(store, 3)
    assert [d.action for d in fired][:3] == ["monitor", "retrain", "train"]
    retrain = store.retrains(MODEL)[0]
    assert retrain.details["new_labels"] == 800
    held = _hour(store, 4)[-1]
    assert held.action == "hold" and "200 labelled since the last retrain" in held.reason
    late = START + timedelta(hours=5, seconds=30)  # labels that had not arrived do not count
    log_served(store, MODEL, batch(600, 99, flipped=True), late)
    assert not _fires_at(store, late)
    assert _fires_at(store, late + timedelta(minutes=11))


def test_a_manual_retrain_needs_no_trigger_and_passes_the_guards(store: Client) -> None:
    launch(store, MODEL, _policy(min_interval="1d", max_per_day=1, min_new_labels=10_000))
    for hour in range(2):
        assert _hour(store, hour, flipped=False)[-1].action == "idle"
    now = START + timedelta(hours=2)
    decisions = store.retrain(MODEL, reason="  new bureau data ", now=now)
    assert [d.action for d in decisions] == ["retrain", "train", "blessed", "promoted"]
    assert decisions[0].reason.startswith("manual:") and "new bureau data" in decisions[0].reason
    [retrain] = store.retrains(MODEL)
    assert (retrain.trigger, retrain.reason, retrain.state) == (
        "manual",
        "new bureau data",
        "promoted",
    )
    assert retrain.requested_by == "tester"
    assert store.get_version(f"models:/{MODEL}@champion").version == retrain.candidate_version

    queued = store.retrain(MODEL, reason="and again", now=now + timedelta(minutes=1), run=False)
    assert [d.action for d in queued] == ["retrain"]  # no guard held it: one a day, 1d apart
    assert store.retrains(MODEL)[0].state == "queued"
    with pytest.raises(Conflict, match=r"already in flight \(#2, queued\)"):
        store.retrain(MODEL, reason="a third", now=now + timedelta(minutes=2))
    assert len(store.retrains(MODEL)) == 2


def test_a_manual_retrain_needs_a_champion_and_a_reason(store: Client) -> None:
    launch(store, MODEL)
    with pytest.raises(InvalidInput, match="needs a reason"):
        store.retrain(MODEL, reason="   ", now=START)
    with pytest.raises(NotFound):
        store.retrain("nobody", reason="why not", now=START)
    launch(store, "unreleased")
    store.delete_alias("unreleased", "champion", reason="pulled")
    with pytest.raises(NotFound, match="champion"):
        store.retrain("unreleased", reason="why not", now=START)
    assert store.retrains() == []
    assert consider(store, MODEL, Policy(), 1, START).trigger is None
