"""The closed loop on SQLite and PostgreSQL: the concept flips, the champion's accuracy falls,
the autopilot retrains until a candidate passes the gates and becomes champion, and every step
is recorded with its reason; a healthy champion is left alone."""

from __future__ import annotations

import copy
from collections import Counter
from datetime import timedelta

import pytest

from keel.client import Client
from keel.controller.autopilot import Autopilot, Decision
from keel.domain.policy import Policy
from keel.errors import Conflict, InvalidInput, NotFound

from .scenario import POLICY, START, launch, serve

MODEL = "risk"
TRIGGER = POLICY["retraining"]["triggers"][0]


def _passes(client: Client, hours: int, *, flipped_from: int, first: int = 0) -> list[Decision]:
    """Serve an hour of traffic with the champion, then run one autopilot pass; ``hours``
    times. Hours from ``flipped_from`` on follow the flipped concept."""
    decisions: list[Decision] = []
    for i in range(first, first + hours):
        at = START + timedelta(hours=i)
        serve(client, MODEL, 200, 10 + i, flipped=i >= flipped_from, at=at)
        decisions += client.autopilot(now=at + timedelta(hours=1))
    return decisions


def test_a_flipped_concept_is_retrained_gated_and_promoted(client: Client) -> None:
    launch(client, MODEL)
    quiet = _passes(client, 2, flipped_from=2)
    assert [d.action for d in quiet] == ["monitor", "idle"] * 2
    assert client.retrains(MODEL) == []

    decisions: list[Decision] = []
    hour = 2
    while not any(d.action == "promoted" for d in decisions):
        assert hour < 9, [d.to_dict() for d in decisions]
        decisions += _passes(client, 1, flipped_from=2, first=hour)
        hour += 1

    made = client.retrains(MODEL)[::-1]  # oldest first
    *rejected, promoted = made
    assert rejected, "the first candidates have too little fresh data to pass the gates"
    fired = [d for d in decisions if d.action == "retrain"]
    assert [d.retrain for d in fired] == [r.id for r in made]
    for decision, retrain in zip(fired, made, strict=True):
        assert decision.reason.startswith(f"{TRIGGER}: accuracy = ")
        assert retrain.trigger == TRIGGER and retrain.requested_by == "tester"
        observed = float(retrain.details["value"])
        assert observed < 0.8
        assert f"accuracy = {observed:.4f} (champion v1)" in retrain.reason
        assert retrain.details["champion"] == 1
    for retrain in rejected:
        assert retrain.state == "rejected" and retrain.ended_at is not None
        assert retrain.candidate_version is not None
        assert retrain.details["gate"]["verdict"] != "blessed"
        assert "accuracy >= 0.85 on" in str(retrain.outcome)
        assert str(retrain.outcome) == "; ".join(retrain.details["gate"]["reasons"])
        candidate = client.get_version(f"{MODEL}/{retrain.candidate_version}")
        assert candidate.tags["retrain"] == str(retrain.id)
    assert promoted.state == "promoted" and promoted.deployment_id is not None
    new = int(promoted.candidate_version or 0)
    assert client.get_version(f"models:/{MODEL}@champion").version == new
    assert [d.status for d in client.deployments(MODEL)] == ["completed"]

    lineage = client.lineage(f"{MODEL}/{new}")
    assert lineage.version.parent_version == 1
    assert [p.version for p in lineage.parents] == [1]
    assert lineage.version.training_snapshot is not None
    assert lineage.version.tags["retrain"] == str(promoted.id)
    assert lineage.version.tags["pipeline_run"] == promoted.pipeline_run_id
    trained_on = [s["ref"] for s in lineage.snapshots if s["role"] == "train"]
    assert trained_on == [lineage.version.training_snapshot], lineage.snapshots
    assert trained_on[0].startswith(f"{MODEL}-retrain/")
    assert lineage.gates and lineage.gates[-1].verdict == "blessed"
    assert [(p.alias, p.end) for p in lineage.alias_periods] == [("champion", None)]
    assert [p.version for p in client.alias_periods(MODEL, "champion")] == [1, new]
    run = client.pipeline_run(str(promoted.pipeline_run_id))
    assert run.status == "succeeded" and run.model == MODEL
    steps = ["training_window", "setup", "candidate", "registered", "gate"]
    assert [s.name for s in run.steps] == steps
    # the retrain chose its training setup by validation and says what it tried
    selection = promoted.details["selection"]
    tried = [c["name"] for c in selection["candidates"]]
    assert tried == ["all rows", "newest 40%", "newest 15%"]
    assert selection["chosen"] in tried and selection["validation_rows"] > 0
    assert all(c["score"] is not None for c in selection["candidates"]), selection
    assert selection["cost"] <= selection["budget"] == 3
    assert lineage.version.tags["training_setup"] == selection["chosen"]

    # the new champion is judged on its own labelled predictions only: none yet, then good ones
    after = [d.action for d in client.autopilot(now=START + timedelta(hours=hour, minutes=30))]
    assert after == ["monitor", "idle"]
    later = _passes(client, 2, flipped_from=0, first=hour + 1)
    assert [d.action for d in later] == ["monitor", "idle"] * 2
    assert len(client.retrains(MODEL)) == len(made)
    # when the concept flips back, its own labelled predictions fire the trigger
    back = _passes(client, 1, flipped_from=99, first=hour + 3)
    refired = next(d for d in back if d.action == "retrain")
    assert refired.reason.endswith(f"(champion v{new})")
    assert client.retrains(MODEL)[0].details["champion"] == new
    made = client.retrains(MODEL)[::-1]

    trail = [e for e in client.audit_log(limit=None) if e.action.startswith("retrain.")]
    count = Counter(e.action for e in trail)
    states = Counter(r.state for r in made)
    assert set(states) <= {"rejected", "promoted"}  # every one ended
    assert count["retrain.request"] == count["retrain.training"] == len(made)
    assert count["retrain.rejected"] == states["rejected"] >= len(rejected)
    assert count["retrain.deploying"] == count["retrain.promoted"] == states["promoted"] >= 1
    for entry in trail:
        assert entry.subject == MODEL and entry.details["reason"], entry
    [request] = [
        e for e in trail if e.action == "retrain.request" and e.details["retrain"] == promoted.id
    ]
    assert request.details["trigger"] == TRIGGER and "accuracy = " in request.details["reason"]
    [blessed] = [
        e for e in trail if e.action == "retrain.deploying" and e.details["retrain"] == promoted.id
    ]
    assert blessed.details["from"] == "training" and blessed.details["candidate_version"] == new
    [done] = [
        e for e in trail if e.action == "retrain.promoted" and e.details["retrain"] == promoted.id
    ]
    assert done.details["from"] == "deploying" and f"#{promoted.id}" in done.details["reason"]
    verified = client.verify_audit()
    assert verified.intact, verified.reason
    # the retrains gated on their own holdouts without rewriting the model's policy
    assert client.get_policy(MODEL) == Policy.parse(POLICY)
    assert not [e for e in client.audit_log(limit=None) if e.action == "policy.set"][1:]


def test_a_healthy_champion_fires_nothing(store: Client) -> None:
    launch(store, MODEL)
    decisions = _passes(store, 4, flipped_from=99)
    assert [d.action for d in decisions] == ["monitor", "idle"] * 4
    assert {d.reason for d in decisions if d.action == "idle"} == {"no trigger fired"}
    assert store.retrains(MODEL) == []
    assert store.pipeline_runs(MODEL) == []
    assert store.get_version(f"models:/{MODEL}@champion").version == 1


def test_every_governed_model_gets_its_pass_and_one_failing_model_stops_none(
    store: Client,
) -> None:
    launch(store, MODEL)
    launch(store, "other")
    store.delete_alias("other", "champion", reason="retired")
    serve(store, MODEL, 200, 1, flipped=False, at=START)
    decisions = store.autopilot(now=START + timedelta(hours=1))
    assert {(d.model, d.action) for d in decisions} >= {(MODEL, "idle"), ("other", "idle")}
    [other] = [d for d in decisions if d.model == "other" and d.action == "idle"]
    assert other.reason == "no champion to retrain"
    only = store.autopilot(now=START + timedelta(hours=2), models=[MODEL], monitor=False)
    assert [(d.model, d.action) for d in only] == [(MODEL, "idle")]
    # a model named by the caller must exist: a typo is an error, not a quiet empty pass
    with pytest.raises(NotFound, match="ghost"):
        store.autopilot(now=START + timedelta(hours=2), models=[MODEL, "ghost"])
    with pytest.raises(InvalidInput, match="a list of model names"):
        store.autopilot(models=MODEL)  # type: ignore[arg-type]
    with pytest.raises(InvalidInput, match="a datetime"):
        store.autopilot(now="tomorrow")
    naive = store.autopilot(now=(START + timedelta(hours=3)).replace(tzinfo=None), models=[MODEL])
    assert [(d.model, d.action) for d in naive][-1] == (MODEL, "idle")  # taken as UTC


def test_a_second_autopilot_cannot_drive_a_retrain_another_one_holds(store: Client) -> None:
    from keel.controller import retrains

    launch(store, MODEL)
    # labelled rows v1 has not seen, or the retrain would be held with nothing to learn
    serve(store, MODEL, 200, 10, flipped=False, at=START - timedelta(hours=1))
    first, second = Autopilot(store, lease_s=600), Autopilot(store, lease_s=600)
    assert first.owner != second.owner
    queued = first.request(MODEL, reason="new bureau data", now=START)
    assert retrains.take_lease(store.db, queued.id, first.owner, first.lease)
    blocked = second.reconcile(MODEL, START)
    assert [d.action for d in blocked] == ["monitor", "busy"]
    assert blocked[-1].retrain == queued.id
    assert store.retrains(MODEL)[0].state == "queued"  # untouched
    with pytest.raises(Conflict, match="moved by another controller"):
        retrains.move(
            store.db, "intruder", queued, second.owner, "abandoned", reason="mine", now=START
        )
    done = first.reconcile(MODEL, START)  # its own lease: it goes on
    assert [d.action for d in done][:3] == ["monitor", "train", "blessed"]
    assert store.retrains(MODEL)[0].state == "promoted"


def test_a_retrain_that_keeps_failing_ends_failed_and_one_without_a_champion_is_abandoned(
    store: Client,
) -> None:
    policy = copy.deepcopy(POLICY)
    policy["retraining"].update(max_attempts=2, training={"min_rows": 100_000})
    launch(store, MODEL, policy)
    decisions = _passes(store, 2, flipped_from=1)
    assert [d.action for d in decisions][-3:] == ["retrain", "train", "retry"]
    assert "attempt 1 failed: " in decisions[-1].reason and "min_rows" in decisions[-1].reason
    # what a person can do is a command, not the SDK's Pipeline.run(client, resume=...)
    assert "`keel autopilot --once`" in decisions[-1].reason
    assert "Pipeline.run" not in decisions[-1].reason
    assert store.retrains(MODEL)[0].state == "training"  # kept for the next pass
    again = store.autopilot(now=START + timedelta(hours=3))
    assert [d.action for d in again] == ["monitor", "failed"]
    assert f"`keel retrain {MODEL}`" in again[-1].reason
    [retrain] = store.retrains(MODEL)
    assert retrain.state == "failed" and retrain.details["attempts"] == 2
    assert "at least 100000 needed" in str(retrain.outcome)
    [run] = store.pipeline_runs(MODEL)  # the retry resumed the same run
    assert run.id == retrain.pipeline_run_id and run.status == "failed"

    queued = store.retrain(MODEL, reason="after the fix", now=START + timedelta(hours=3), run=False)
    store.delete_alias(MODEL, "champion", reason="pulled from service")
    gone = store.autopilot(now=START + timedelta(hours=4), monitor=False)
    assert [(d.action, d.retrain) for d in gone] == [("abandoned", queued[0].retrain)]
    assert store.retrains(MODEL)[0].state == "abandoned"
    assert store.autopilot(now=START + timedelta(hours=5), monitor=False)[0].action == "idle"
