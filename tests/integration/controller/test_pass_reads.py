"""One autopilot pass reads each model's policy once, each of its label parts once and each
version's monitoring reference once, however many parts of the pass use them: the monitoring
run (windows, alert rules), the retraining triggers and the rollout's analysis share what the
pass read."""

from __future__ import annotations

import copy
from collections import Counter
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pyarrow as pa
import pytest

from keel.client import Client
from keel.monitoring import model_reads
from keel.registry import governance
from keel.store.prediction_log import ParquetLogStore, Part

from .scenario import POLICY, START, batch, launch, log_served, serve

MODEL = "risk"
#: drift alerts and a rule alert, so the monitoring run evaluates rules on labels too
WATCHED: dict[str, Any] = {
    **copy.deepcopy(POLICY),
    "monitoring": {
        **POLICY["monitoring"],
        "alerts": ["accuracy < 0.8", "drifted_features >= 1"],
    },
}
CANARY: dict[str, Any] = {
    **copy.deepcopy(WATCHED),
    "rollout": {
        "strategy": "canary",
        "steps": [50, 100],
        "interval": "1m",
        "min_rows_per_step": 100,
        "min_labelled_rows": 50,
    },
}


class Reads:
    """Counts reads of the stored policy (every read goes through ``policy_in``), of label
    parts of the prediction log and of versions' references, by model, part and version."""

    def __init__(self) -> None:
        self.policies: Counter[str] = Counter()
        self.label_parts: Counter[str] = Counter()
        self.references: Counter[int] = Counter()

    def clear(self) -> None:
        self.policies.clear()
        self.label_parts.clear()
        self.references.clear()


@pytest.fixture
def reads(monkeypatch: pytest.MonkeyPatch) -> Iterator[Reads]:
    counted = Reads()
    policy_in = governance.policy_in
    read = ParquetLogStore.read

    def counting_policy_in(conn: Any, name: str) -> Any:
        counted.policies[name] += 1
        return policy_in(conn, name)

    def counting_read(
        self: ParquetLogStore, part: Part, columns: list[str] | None = None
    ) -> pa.Table:
        if "/labels/" in part.path:
            counted.label_parts[part.path] += 1
        return read(self, part, columns)

    load_reference = model_reads.load_reference

    def counting_load_reference(db: Any, artifacts: Any, version: Any, policy: Any) -> Any:
        counted.references[version.version] += 1
        return load_reference(db, artifacts, version, policy)

    monkeypatch.setattr(governance, "policy_in", counting_policy_in)
    monkeypatch.setattr(model_reads, "load_reference", counting_load_reference)
    monkeypatch.setattr(ParquetLogStore, "read", counting_read)
    yield counted


def test_an_idle_pass_reads_the_policy_and_every_label_part_once(
    store: Client, reads: Reads
) -> None:
    launch(store, MODEL, WATCHED)
    at = START
    for hour in range(3):  # labelled windows, the champion still right: no retrain
        serve(store, MODEL, 200, 10 + hour, flipped=False, at=at)
        at += timedelta(minutes=10)
    reads.clear()
    decisions = store.autopilot(now=at)
    assert [d.action for d in decisions] == ["monitor", "idle"], decisions
    assert "3 new windows" in decisions[0].reason
    assert reads.policies == {MODEL: 1}
    parts = store.logs.parts("labels", MODEL)
    assert len(parts) == 3
    assert reads.label_parts == {part.path: 1 for part in parts}
    assert reads.references == {1: 1}  # the monitoring run's and the triggers' champion


def test_a_pass_that_steps_a_canary_reads_them_once_too(store: Client, reads: Reads) -> None:
    launch(store, MODEL, CANARY)
    at = START
    for hour in range(4):  # the concept flips: the trigger fires and a canary starts
        serve(store, MODEL, 200, 10 + hour, flipped=True, at=at)
        at += timedelta(minutes=10)
    started = store.autopilot(now=at)
    assert [d.action for d in started][-2:] == ["deploy", "rollout"], started
    candidate = int(store.retrains(MODEL)[0].candidate_version or 0)
    frame = batch(240, 101, flipped=True)
    log_served(store, MODEL, frame.iloc[:120], at, version=candidate, seed=101)
    log_served(store, MODEL, frame.iloc[120:], at, version=1)
    reads.clear()
    stepped = store.autopilot(now=at + timedelta(minutes=2))
    assert [d.action for d in stepped] == ["monitor", "rollout"], stepped
    assert "accuracy (labels)" in stepped[-1].reason  # the analysis used the labels
    assert reads.policies == {MODEL: 1}
    parts = store.logs.parts("labels", MODEL)
    assert reads.label_parts == {part.path: 1 for part in parts}
    assert reads.references == {1: 1, candidate: 1}  # windows' and the canary's analysis'


def test_the_counts_would_see_a_second_read(store: Client, reads: Reads) -> None:
    """The counters are not blind: a monitoring run and the triggers asked apart, as a pass
    did before it shared its reads, read everything twice."""
    from keel.controller.triggers import consider

    launch(store, MODEL, WATCHED)
    serve(store, MODEL, 200, 10, flipped=False, at=START)
    reads.clear()
    store.monitor(MODEL, now=START + timedelta(minutes=5))
    policy = store.get_policy(MODEL)
    assert policy is not None
    consider(store.services, MODEL, policy, 1, START + timedelta(minutes=5))
    assert reads.policies == {MODEL: 2}
    assert set(reads.label_parts.values()) == {2}
    assert reads.references == {1: 2}


def test_a_pass_that_retrains_and_deploys_reads_it_again_only_to_deploy(
    store: Client, reads: Reads
) -> None:
    """Training and gating follow the policy the pass read; starting the canary reads the
    stored policy once more, for its blessing and promotability checks together: the policy in
    force when it deploys (training may take minutes), never one handed over."""
    launch(store, MODEL, CANARY)
    at = START
    for hour in range(4):  # the concept flips: the trigger fires and a canary starts
        serve(store, MODEL, 200, 10 + hour, flipped=True, at=at)
        at += timedelta(minutes=10)
    reads.clear()
    started = store.autopilot(now=at)
    assert [d.action for d in started][-2:] == ["deploy", "rollout"], started
    assert reads.policies == {MODEL: 2}


def test_a_replace_reads_it_again_to_deploy_and_inside_the_champion_move(
    store: Client, reads: Reads
) -> None:
    """A deployment that moves the champion also checks the stored policy in the transaction
    that moves the alias, so a policy tightened meanwhile is never bypassed."""
    launch(store, MODEL, WATCHED)
    at = START
    for hour in range(4):  # the concept flips: the trigger fires and the candidate replaces
        serve(store, MODEL, 200, 10 + hour, flipped=True, at=at)
        at += timedelta(minutes=10)
    reads.clear()
    replaced = store.autopilot(now=at)
    assert [d.action for d in replaced][-1] == "promoted", replaced
    assert store.get_version(f"models:/{MODEL}@champion").version == 2
    assert reads.policies == {MODEL: 3}
