"""Two controllers advancing the same deployment at the same moment: exactly one moves it, the
other gets Conflict or finds it moved, and there is never more than one champion."""

from __future__ import annotations

import threading
from datetime import datetime, timedelta

from keel.errors import Conflict
from keel.registry import deployments
from keel.rollout import actions

from .conftest import MODEL, Rollout


def _both_at_once(rollout: Rollout, at: datetime) -> list[str]:
    """Two controllers advancing at the same moment; their outcomes, sorted."""
    barrier = threading.Barrier(2)
    found: list[str] = []
    lock = threading.Lock()

    def advance() -> None:
        barrier.wait()
        try:
            action = rollout.advance(at=at).action
        except Conflict:
            action = "conflict"
        with lock:
            found.append(action)

    threads = [threading.Thread(target=advance) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return sorted(found)


def _race(rollout: Rollout, rounds: int = 3) -> list[list[str]]:
    """Race two controllers ``rounds`` times, logging a step's rows between rounds."""
    outcomes: list[list[str]] = []
    for _ in range(rounds):
        running = deployments.running(rollout.client.db, MODEL)
        if running is None:
            break
        outcomes.append(_both_at_once(rollout, running.step_started_at + timedelta(seconds=601)))
        rollout.rows(1, 300, variant="stable")
        rollout.rows(2, 300, variant="candidate")
    return outcomes


def test_two_controllers_never_move_a_deployment_twice(rollout: Rollout) -> None:
    actions.deploy(rollout.client.db, "ann", MODEL, 2, strategy="canary", steps=[10, 50, 100])
    rollout.rows(1, 300, variant="stable")
    rollout.rows(2, 300, variant="candidate")
    outcomes = _race(rollout)
    moved = {"step", "promote"}
    for pair in outcomes:
        assert len([a for a in pair if a in moved]) == 1, outcomes
        assert next(a for a in pair if a not in moved) in ("conflict", "wait", "none"), outcomes
    assert [next(a for a in pair if a in moved) for pair in outcomes] == ["step", "step", "promote"]
    trail = [e.action for e in rollout.client.audit_log(subject=f"model:{MODEL}/2")]
    assert trail.count("deployment.step") == 2 and trail.count("deployment.promote") == 1
    champions = [m.version for m in rollout.client.alias_history(MODEL, "champion")]
    assert champions == [1, 2] and rollout.champion() == 2
