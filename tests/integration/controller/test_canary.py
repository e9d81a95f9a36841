"""A retrain rolled out as a canary: the autopilot deploys the blessed candidate, advances the
rollout on the rows the router logged for each version, and promotes it, or rolls it back on a
regression and leaves the champion alone."""

from __future__ import annotations

import copy
from datetime import datetime, timedelta
from typing import Any

import pytest

from keel.client import Client
from keel.controller.autopilot import Decision

from .scenario import POLICY, START, batch, launch, log_served, serve

MODEL = "risk"
CANARY: dict[str, Any] = {
    **copy.deepcopy(POLICY),
    "rollout": {
        "strategy": "canary",
        "steps": [50, 100],
        "interval": "1m",
        "auto_rollback": True,
        "min_rows_per_step": 100,
        "min_labelled_rows": 50,
    },
}


def _blessed_and_deployed(client: Client) -> tuple[int, datetime]:
    """Four batches after the flip, then a pass: the retrain is blessed and its canary starts
    (on the autopilot's clock, which times the canary's steps)."""
    launch(client, MODEL, CANARY)
    at = START
    for hour in range(4):
        serve(client, MODEL, 200, 10 + hour, flipped=True, at=at)
        at += timedelta(minutes=10)
    decisions = client.autopilot(now=at)
    actions = [d.action for d in decisions]
    assert actions == ["monitor", "retrain", "train", "blessed", "deploy", "rollout"], decisions
    assert "canary rollout #" in decisions[4].reason
    assert decisions[5].reason.startswith("wait: waiting for rows")
    assert decisions[5].details == {"weight": 50.0}
    retrain = client.retrains(MODEL)[0]
    assert retrain.state == "rolling_out" and retrain.deployment_id is not None
    return int(retrain.candidate_version or 0), at


def _split_traffic(
    client: Client, candidate: int, at: datetime, seed: int, **regression: float
) -> list[Decision]:
    """The router's 50/50 split of one batch, logged per version with labels; then a pass."""
    frame = batch(240, seed, flipped=True)
    log_served(client, MODEL, frame.iloc[:120], at, version=candidate, seed=seed, **regression)
    log_served(client, MODEL, frame.iloc[120:], at, version=1)
    return client.autopilot(now=at + timedelta(minutes=2))


def test_a_sound_candidate_steps_through_the_canary_and_is_promoted(store: Client) -> None:
    candidate, at = _blessed_and_deployed(store)
    stepped = _split_traffic(store, candidate, at, 100)
    assert [d.action for d in stepped] == ["monitor", "rollout"]
    assert stepped[-1].reason.startswith("step: ") and stepped[-1].details == {"weight": 100.0}
    assert "accuracy (labels)" in stepped[-1].reason
    done = _split_traffic(store, candidate, at + timedelta(minutes=2), 101)
    assert [d.action for d in done][-1] == "promoted"
    retrain = store.retrains(MODEL)[0]
    assert retrain.state == "promoted" and retrain.ended_at is not None
    assert str(retrain.outcome).startswith("passed every step")
    assert store.get_version(f"models:/{MODEL}@champion").version == candidate
    [deployment] = store.deployments(MODEL)
    assert (deployment.id, deployment.status) == (retrain.deployment_id, "promoted")
    assert deployment.analysis[0]["event"] == "start"  # where the log stood
    assert [e["decision"] for e in deployment.analysis[1:]] == ["step", "promote"]
    trail = [e.action for e in store.audit_log(limit=None) if e.action.startswith("retrain.")]
    assert trail[:3] == ["retrain.promoted", "retrain.rolling_out", "retrain.deploying"]
    quiet = store.autopilot(now=at + timedelta(minutes=10))
    assert [d.action for d in quiet] == ["monitor", "idle"]


@pytest.mark.parametrize(
    ("regression", "words"),
    [({"errors": 0.3}, "error rate"), ({"wrong": 0.8}, "accuracy (labels)")],
    ids=["errors", "wrong-answers"],
)
def test_a_candidate_that_regresses_in_production_is_rolled_back(
    store: Client, regression: dict[str, float], words: str
) -> None:
    candidate, at = _blessed_and_deployed(store)
    ended = _split_traffic(store, candidate, at, 100, **regression)
    assert [d.action for d in ended] == ["monitor", "rolled_back"]
    breach = f"breach at step 1 of 2 (50%): {words}"
    assert breach in ended[-1].reason
    retrain = store.retrains(MODEL)[0]
    assert retrain.state == "rolled_back" and retrain.active is False
    assert str(retrain.outcome).startswith(breach)
    assert store.get_version(f"models:/{MODEL}@champion").version == 1
    [deployment] = store.deployments(MODEL)
    assert deployment.status == "rolled_back" and deployment.id == retrain.deployment_id
    assert [m.version for m in store.alias_history(MODEL, "champion")] == [1]
    [alert] = store.list_alerts(MODEL, state="open")
    assert f"{MODEL}/{candidate}" in alert.rule and "rolled back" in alert.message
    [audited] = [e for e in store.audit_log(limit=None) if e.action == "retrain.rolled_back"]
    assert audited.details["deployment_id"] == deployment.id
    assert audited.details["from"] == "rolling_out" and words in audited.details["reason"]
