"""A drop trigger judges the champion against itself: its metric over its newest N labelled
predictions against its first N as champion. It waits for N labels, leaves a steadily mediocre
champion alone (where a fixed threshold would keep firing), fires when it slips by the margin
with both values in the reason, and holds each new champion to its own first level; against the
last K champions, the level is the mean of their first N, so a poor first window is no excuse."""

from __future__ import annotations

import copy
from datetime import timedelta
from typing import Any

import numpy as np

from keel.client import Client
from keel.controller.triggers import consider
from keel.domain.policy import Policy

from .scenario import POLICY, START, batch, launch, log_served, serve

MODEL = "risk"
DROP = "accuracy drops by 0.1 over the last 200 labelled predictions"


def _policy(*triggers: str) -> dict[str, Any]:
    policy = copy.deepcopy(POLICY)
    policy["retraining"]["triggers"] = list(triggers)
    return policy


def _accuracy(client: Client, version: int, frame: Any, wrong: float = 0.0, seed: int = 0) -> float:
    """What ``log_served`` logs for ``frame``: the version's answers, a share turned round."""
    model = client.load_model(f"models:/{MODEL}/{version}").model
    proba = model.predict_proba(frame[["x0", "x1"]])[:, 1]
    rng = np.random.default_rng(seed)
    rng.random(len(frame))  # log_served draws the failures first
    proba = np.where(rng.random(len(frame)) < wrong, 1.0 - proba, proba)
    return float(((proba >= 0.5).astype(int) == frame["y"].to_numpy()).mean())


def test_a_drop_waits_for_its_span_then_fires_with_both_values(store: Client) -> None:
    launch(store, MODEL, _policy(DROP))
    first = batch(200, 10, flipped=False)
    log_served(store, MODEL, first.head(150), START)
    actions = [d.action for d in store.autopilot(now=START + timedelta(hours=1))]
    assert actions == ["monitor", "idle"]  # 150 labelled: too few to have a level
    log_served(store, MODEL, first.tail(50), START + timedelta(hours=1))
    assert [d.action for d in store.autopilot(now=START + timedelta(hours=2))] == [
        "monitor",
        "idle",
    ]  # 200 labelled: the newest are the first, no drop
    flipped = batch(200, 11, flipped=True)
    log_served(store, MODEL, flipped, START + timedelta(hours=2))
    decisions = store.autopilot(now=START + timedelta(hours=3))
    fired = next(d for d in decisions if d.action == "retrain")

    baseline = _accuracy(store, 1, first)
    newest = _accuracy(store, 1, flipped)
    assert baseline - newest > 0.3
    [retrain] = store.retrains(MODEL)
    assert retrain.trigger == DROP
    assert retrain.details["baseline"] == baseline
    assert retrain.details["value"] == newest
    assert retrain.details["worse_by"] == baseline - newest
    expected = (
        f"accuracy dropped by {baseline - newest:.4f}: {newest:.4f} over the last 200 labelled "
        f"predictions against {baseline:.4f} over champion v1's first 200"
    )
    assert retrain.reason == expected
    assert fired.reason == f"{DROP}: {expected}"


def test_a_steadily_mediocre_champion_is_left_alone_until_it_slips(store: Client) -> None:
    launch(store, MODEL, _policy(DROP))
    absolute = Policy.parse(_policy("accuracy < 0.8 over the last 200 labelled predictions"))
    at = START
    steady = batch(200, 10, flipped=False)
    for _ in range(3):  # the same third of the answers wrong, every hour: about 0.68
        log_served(store, MODEL, steady, at, wrong=0.3, seed=0)
        at += timedelta(hours=1)
        assert [d.action for d in store.autopilot(now=at)] == ["monitor", "idle"]
        # a fixed threshold under the launch level would have fired every hour
        assert consider(store, MODEL, absolute, 1, at).fire
    assert store.retrains(MODEL) == []
    log_served(store, MODEL, batch(200, 20, flipped=False), at, wrong=0.6, seed=9)
    decisions = store.autopilot(now=at + timedelta(hours=1))
    assert any(d.action == "retrain" for d in decisions)
    [retrain] = store.retrains(MODEL)
    assert retrain.details["baseline"] == _accuracy(store, 1, steady, wrong=0.3, seed=0) < 0.8
    assert retrain.details["worse_by"] >= 0.1


def test_a_lower_is_better_metric_fires_when_it_rises(store: Client) -> None:
    trigger = "log_loss rises by 0.3 over the last 200 labelled predictions"
    launch(store, MODEL, _policy(trigger))
    log_served(store, MODEL, batch(200, 10, flipped=False), START)
    assert [d.action for d in store.autopilot(now=START + timedelta(hours=1))] == [
        "monitor",
        "idle",
    ]
    log_served(store, MODEL, batch(200, 11, flipped=True), START + timedelta(hours=1))
    decisions = store.autopilot(now=START + timedelta(hours=2))
    fired = next(d for d in decisions if d.action == "retrain")
    [retrain] = store.retrains(MODEL)
    assert retrain.details["value"] - retrain.details["baseline"] >= 0.3
    assert fired.reason.startswith(f"{trigger}: log_loss rose by ")
    assert f"{retrain.details['baseline']:.4f} over champion v1's first 200" in fired.reason


def test_a_new_champion_is_held_to_its_own_first_level(store: Client) -> None:
    launch(store, MODEL, _policy(DROP))
    hour = 0
    serve(store, MODEL, 200, 10, flipped=False, at=START)
    store.autopilot(now=START + timedelta(hours=1))
    while not any(r.state == "promoted" for r in store.retrains(MODEL)):
        hour += 1
        assert hour < 10, [r.to_dict() for r in store.retrains(MODEL)]
        serve(store, MODEL, 200, 10 + hour, flipped=True, at=START + timedelta(hours=hour))
        store.autopilot(now=START + timedelta(hours=hour + 1))
    new = store.get_version(f"models:/{MODEL}@champion").version
    assert new != 1
    made = len(store.retrains(MODEL))
    # the new champion serves the flipped concept well: its own level, no drop, no retrain
    for _ in range(2):
        hour += 1
        serve(store, MODEL, 200, 10 + hour, flipped=True, at=START + timedelta(hours=hour))
        actions = [d.action for d in store.autopilot(now=START + timedelta(hours=hour + 1))]
        assert actions == ["monitor", "idle"]
    assert len(store.retrains(MODEL)) == made
    first = _accuracy(store, new, batch(200, 10 + hour - 1, flipped=True))
    # the concept flips back: it slips from its own first level, not from v1's
    hour += 1
    serve(store, MODEL, 200, 10 + hour, flipped=False, at=START + timedelta(hours=hour))
    decisions = store.autopilot(now=START + timedelta(hours=hour + 1))
    fired = next(d for d in decisions if d.action == "retrain")
    assert f"over champion v{new}'s first 200" in fired.reason
    retrain = store.retrains(MODEL)[0]
    assert retrain.details["champion"] == new
    assert retrain.details["baseline"] == first


def test_against_the_last_champions_a_poor_first_window_does_not_set_the_level(
    store: Client,
) -> None:
    trigger = (
        "accuracy drops by 0.1 against the last 2 champions over the last 200 labelled predictions"
    )
    launch(store, MODEL, _policy(trigger))
    v1_first = batch(200, 10, flipped=False)
    log_served(store, MODEL, v1_first, START)
    store.autopilot(now=START + timedelta(hours=1))
    hour = 0
    while not any(r.state == "promoted" for r in store.retrains(MODEL)):
        hour += 1
        assert hour < 10, [r.to_dict() for r in store.retrains(MODEL)]
        log_served(store, MODEL, batch(200, 10 + hour, flipped=True), START + timedelta(hours=hour))
        store.autopilot(now=START + timedelta(hours=hour + 1))
    new = store.get_version(f"models:/{MODEL}@champion").version
    made = len(store.retrains(MODEL))
    # the new champion starts badly (a third of its answers turned round): against its own
    # first window, which this is, there is no drop; against the mean of its first and v1's,
    # the level fresh champions start at, there is
    own_first = batch(200, 30, flipped=True)
    hour += 1
    log_served(store, MODEL, own_first, START + timedelta(hours=hour), wrong=0.3, seed=1)
    at = START + timedelta(hours=hour + 1)
    alone = Policy.parse(_policy("accuracy drops by 0.1 over the last 200 labelled predictions"))
    assert not consider(store, MODEL, alone, new, at).fire
    fired = next(d for d in store.autopilot(now=at) if d.action == "retrain")

    first_v1 = _accuracy(store, 1, v1_first)
    first_new = _accuracy(store, new, own_first, wrong=0.3, seed=1)
    assert (first_v1 + first_new) / 2 - first_new >= 0.1
    assert len(store.retrains(MODEL)) == made + 1
    retrain = store.retrains(MODEL)[0]
    assert retrain.details["champions"] == 2
    assert retrain.details["baseline"] == (first_new + first_v1) / 2
    assert retrain.details["value"] == first_new
    assert (
        f"against {(first_new + first_v1) / 2:.4f} the mean of the first 200 of the last 2 "
        f"champions (v{new}'s own {first_new:.4f})"
    ) in fired.reason


def test_a_version_rolled_back_is_not_one_of_the_last_champions(store: Client) -> None:
    from sklearn.linear_model import LogisticRegression

    from keel.controller.triggers import _champions_before

    launch(store, MODEL, _policy(DROP))
    train = batch(300, 3, flipped=False)
    for number in (2, 3):
        fitted = LogisticRegression().fit(train[["x0", "x1"]], train["y"])
        store.register_model(MODEL, fitted, training_data=train, target="y")
        store.set_alias(MODEL, "champion", number, reason=f"v{number} by hand", force=True)
    assert _champions_before(store, MODEL, 3, 5) == [2, 1]
    store.rollback(MODEL, reason="v3 answers badly")  # champion back to v2
    assert store.get_version(f"models:/{MODEL}@champion").version == 2
    # v3's start is not a level to hold v2 to; v1 is still there
    assert _champions_before(store, MODEL, 2, 5) == [1]
    assert _champions_before(store, MODEL, 2, 1) == []
