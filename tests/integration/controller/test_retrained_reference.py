"""A policy that names its reference snapshot (held-out data) describes the versions a person
registered; a version a retrain registered is monitored against its own retrain's holdout, so
drift and the label-free estimate measure the serving model against the data it was judged on,
not against its predecessor's, and the user's snapshot stays the launch version's reference."""

from __future__ import annotations

import copy
from datetime import timedelta

import pytest

from keel.client import Client
from keel.domain.policy import Policy
from keel.monitoring.references import reference_snapshot

from .scenario import POLICY, START, batch, launch, serve

MODEL = "risk"


@pytest.mark.parametrize("refit", [False, True])
def test_a_retrained_champion_is_compared_with_its_own_holdout(store: Client, refit: bool) -> None:
    policy = copy.deepcopy(POLICY)
    policy["monitoring"]["reference"] = f"{MODEL}-holdout"
    policy["retraining"]["training"]["refit"] = refit
    mine = store.register_snapshot(batch(300, 99, flipped=False), f"{MODEL}-holdout")
    launch(store, MODEL, policy)
    hour = 0
    while not any(r.state == "promoted" for r in store.retrains(MODEL)):
        assert hour < 12, [r.to_dict() for r in store.retrains(MODEL)]
        serve(store, MODEL, 200, 10 + hour, flipped=hour >= 1, at=START + timedelta(hours=hour))
        store.autopilot(now=START + timedelta(hours=hour + 1))
        hour += 1
    champion = store.get_version(f"models:/{MODEL}@champion")
    assert champion.version != 1
    holdout = champion.tags["holdout"]
    assert holdout.startswith(f"{MODEL}-retrain-holdout/")

    parsed = Policy.parse(policy).monitoring
    assert reference_snapshot(store.get_version(f"{MODEL}/1"), parsed) == f"{MODEL}-holdout"
    assert reference_snapshot(champion, parsed) == holdout

    serve(store, MODEL, 200, 50, flipped=True, at=START + timedelta(hours=hour))
    store.autopilot(now=START + timedelta(hours=hour + 1))
    [newest] = store.monitor_windows(MODEL, version=champion.version, limit=1)
    assert newest.reference["snapshot"] == holdout
    first = store.monitor_windows(MODEL, version=1, limit=1000)[-1]
    assert first.reference["snapshot"] == f"{MODEL}-holdout/{mine.version}"
