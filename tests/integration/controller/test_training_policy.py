"""A training pass follows the policy the pass read: the autopilot hands it to the pipeline run
as the ``policy`` parameter (recorded with the run), the steps read it from there wherever they
run, and only a run started without it reads the stored policy, in each step as before."""

from __future__ import annotations

import copy
from collections import Counter
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest

from keel.client import Client
from keel.controller import retrains
from keel.controller.retraining import standard_pipeline
from keel.errors import PipelineFailed
from keel.registry import governance

from .scenario import POLICY, START, launch, serve

MODEL = "risk"
#: every step of the standard pipeline follows the policy, ``refitted`` included
REFIT: dict[str, Any] = copy.deepcopy(POLICY)
REFIT["retraining"]["training"]["refit"] = True


@pytest.fixture
def policy_reads(monkeypatch: pytest.MonkeyPatch) -> Counter[str]:
    """Reads of the stored policy by model (every read goes through ``policy_in``)."""
    counted: Counter[str] = Counter()
    policy_in = governance.policy_in

    def counting_policy_in(conn: Any, name: str) -> Any:
        counted[name] += 1
        return policy_in(conn, name)

    monkeypatch.setattr(governance, "policy_in", counting_policy_in)
    return counted


@pytest.fixture
def flipped(store: Client) -> Iterator[Client]:
    """``risk`` with the REFIT policy and four labelled windows after the concept flipped."""
    launch(store, MODEL, REFIT)
    for hour in range(4):
        serve(store, MODEL, 200, 10 + hour, flipped=True, at=START + timedelta(minutes=10 * hour))
    yield store


def _params(store: Client, **extra: Any) -> dict[str, Any]:
    """A retrain's run parameters, as the autopilot gives them, for a retrain it queued."""
    queued = retrains.request(
        store.db, "tester", MODEL, trigger="manual", reason="test", now=START + timedelta(hours=1)
    )
    return {
        "model": MODEL,
        "champion": 1,
        "now": (START + timedelta(hours=1)).isoformat(),
        "retrain": queued.id,
        "trigger": "manual",
        **extra,
    }


def _stored(store: Client) -> dict[str, Any]:
    policy = store.get_policy(MODEL)
    assert policy is not None
    return policy.to_dict()


def test_a_pass_that_trains_reads_the_stored_policy_once(
    flipped: Client, policy_reads: Counter[str]
) -> None:
    """A gate no candidate passes ends the retrain at the gate, so the pass is the training
    pass alone (a deploy reads the policy for its own checks)."""
    strict = copy.deepcopy(REFIT)
    strict["gates"]["checks"] = ["accuracy >= 0.999"]
    flipped.set_policy(MODEL, strict)
    stored = _stored(flipped)
    policy_reads.clear()
    decisions = flipped.autopilot(now=START + timedelta(hours=1))
    assert [d.action for d in decisions] == ["monitor", "retrain", "train", "rejected"], decisions
    assert policy_reads == {MODEL: 1}  # before runs carried it: once more in each of 4 steps
    [run] = flipped.pipeline_runs(MODEL)
    assert [s.name for s in run.steps][-1] == "refitted"  # all four steps that follow it ran
    assert run.params["policy"] == stored  # lineage: which policy trained the model


def test_the_steps_follow_the_run_s_policy_not_the_stored_one(
    flipped: Client, policy_reads: Counter[str]
) -> None:
    strict = copy.deepcopy(_stored(flipped))
    strict["retraining"]["training"]["min_rows"] = 1_000_000
    policy_reads.clear()
    with pytest.raises(PipelineFailed, match="at least 1000000 needed") as caught:
        standard_pipeline(refit=True).run(flipped, _params(flipped, policy=strict), model=MODEL)
    assert caught.value.step == "training_window"
    assert policy_reads == {}  # the stored policy (min_rows 200) was not read


def test_a_run_started_without_a_policy_reads_the_stored_one(
    flipped: Client, policy_reads: Counter[str]
) -> None:
    """Runs started before runs carried their policy (and resumed since) still work."""
    policy_reads.clear()
    result = standard_pipeline(refit=True).run(flipped, _params(flipped), model=MODEL)
    assert result["refitted"].verdict.blessed
    assert policy_reads == {MODEL: 5}  # training_window, setup, candidate, gate, refitted


def test_a_run_on_ray_follows_the_run_s_policy(flipped: Client) -> None:
    """The policy travels to Ray's workers with the run: a gate stricter than the stored
    one rejects there the candidate the stored gates bless."""
    from keel.pipelines.ray_executor import RayExecutor

    strict = copy.deepcopy(_stored(flipped))
    strict["gates"]["checks"] = ["accuracy >= 0.999"]
    ray = RayExecutor(num_cpus=2)
    try:
        pipeline = standard_pipeline()
        rejected = pipeline.run(flipped, _params(flipped, policy=strict), executor=ray)
        assert not rejected["gate"].blessed
        assert any("0.999" in reason for reason in rejected["gate"].reasons)
        run = flipped.pipeline_run(rejected.run_id)
        assert run.executor == "ray" and run.params["policy"] == strict
    finally:
        ray.close()
