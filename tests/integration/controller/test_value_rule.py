"""The default trigger is the value of retraining: a policy that names no trigger retrains when
a fresh model's expected gain over the coming windows reaches ``retraining.cost``. A concept
that flips makes the champion's decay plain and fires it; a stable stream never pays; each pass
that does not retrain says why, with the numbers."""

from __future__ import annotations

import copy
from datetime import timedelta
from typing import Any

from keel.client import Client
from keel.domain.policy import Policy

from .scenario import POLICY, START, launch, serve

MODEL = "risk"


def _policy(**retraining: Any) -> dict[str, Any]:
    policy = copy.deepcopy(POLICY)
    policy["retraining"] = {"training": {"recent_rows": 600, "holdout": 0.3}, **retraining}
    return policy


def _hour(client: Client, hour: int, flipped: bool) -> list[Any]:
    serve(client, MODEL, 200, 100 + hour, flipped, START + timedelta(hours=hour))
    return client.autopilot(models=[MODEL], now=START + timedelta(hours=hour, minutes=59))


def test_no_trigger_declared_means_the_value_rule_decides() -> None:
    assert Policy.parse(_policy()).retraining.by_value
    assert not Policy.parse(_policy(triggers=["accuracy < 0.8"])).retraining.by_value
    assert not Policy.parse(_policy(schedule="0 3 * * *")).retraining.by_value
    both = Policy.parse(_policy(triggers=["accuracy < 0.8", "value of retraining"]))
    assert both.retraining.by_value and both.retraining.cost == 10


def test_a_flipped_concept_is_worth_a_retrain(store: Client) -> None:
    launch(store, MODEL, _policy())
    first = _hour(store, 0, flipped=False)
    idle = first[-1]
    assert idle.action == "idle" and "expected gain" in idle.reason
    assert idle.details["age_windows"] == 1 and idle.details["cost"] == 10
    fired = next(d for d in _hour(store, 1, flipped=True) if d.action == "retrain")
    [retrain] = store.retrains(MODEL)
    assert retrain.trigger == "value" and "expected gain" in fired.reason
    numbers = retrain.details
    # its own two windows, about 97% then about 50%: tens of points of decay, worth a retrain
    assert numbers["decay_points_per_window"] > 10 and numbers["age_windows"] == 2
    assert numbers["expected_gain"] >= numbers["cost"] == 10


def test_a_stable_stream_is_never_worth_a_retrain(store: Client) -> None:
    launch(store, MODEL, _policy())
    for hour in range(6):
        verdict = _hour(store, hour, flipped=False)[-1]
        assert verdict.action == "idle", verdict
        assert verdict.details["expected_gain"] < verdict.details["cost"]
    assert store.retrains(MODEL) == []
    assert verdict.details["age_windows"] == 6 and verdict.details["history_windows"] == 6


def test_a_higher_cost_waits_longer(store: Client) -> None:
    launch(store, MODEL, _policy(cost=1000))
    _hour(store, 0, flipped=False)
    verdict = _hour(store, 1, flipped=True)[-1]
    assert verdict.action == "idle" and verdict.details["expected_gain"] < 1000
