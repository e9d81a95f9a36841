"""deploy and rollback on both stores: the policy's guard, restoring the previous champion, and
the states a crash or a race between the two writes of a promotion can leave."""

from __future__ import annotations

import pytest

from keel.errors import Conflict, GateFailed, InvalidInput, NotFound
from keel.monitoring.outbox import list_notifications
from keel.registry import aliases, deployments
from keel.rollout import actions

from .conftest import MODEL, Rollout

GUARDED = {"risk_profile": "medium", "gates": {"checks": ["accuracy >= 0.9"]}}


def test_replace_moves_the_champion_at_once_and_rollback_restores_the_previous(
    rollout: Rollout,
) -> None:
    db = rollout.client.db
    done = actions.deploy(db, "ann", MODEL, 2, strategy="replace", reason="hotfix")
    assert (done.status, done.stable_version, rollout.champion()) == ("completed", 1, 2)
    assert deployments.running(db, MODEL) is None
    trail = [e.action for e in rollout.client.audit_log(subject=f"model:{MODEL}/2")]
    assert trail[:2] == ["deployment.complete", "deployment.start"]
    back = actions.rollback(db, "bob", MODEL, reason="complaints from support")
    assert back.action == "champion_restored"
    assert (back.champion, back.replaced, rollout.champion()) == (1, 2, 1)
    last = rollout.client.alias_history(MODEL, "champion")[-1]
    assert (last.moved_by, last.reason) == ("bob", "rollback: complaints from support")
    again = actions.rollback(db, "bob", MODEL, reason="it was fine after all")
    assert again.champion == 2  # the version that held it before the current one


def test_nothing_to_roll_back_is_said_clearly(rollout: Rollout) -> None:
    db = rollout.client.db
    with pytest.raises(Conflict, match="first champion"):
        actions.rollback(db, "bob", MODEL, reason="just in case")
    with pytest.raises(InvalidInput):
        actions.rollback(db, "bob", MODEL, reason=" ")
    with pytest.raises(NotFound):
        actions.rollback(db, "bob", "no-such-model", reason="x")
    rollout.client.delete_alias(MODEL, "champion", reason="retired")
    with pytest.raises(NotFound, match="no champion"):
        actions.rollback(db, "bob", MODEL, reason="x")
    with pytest.raises(Conflict, match="no champion to compare"):
        actions.deploy(db, "ann", MODEL, 2, strategy="canary", steps=[5, 100])


def test_a_running_deployment_is_rolled_back_in_one_step(rollout: Rollout) -> None:
    db = rollout.client.db
    started = actions.deploy(db, "ann", MODEL, 2, strategy="canary", steps=[5, 50, 100])
    result = actions.rollback(db, "bob", MODEL, reason="dashboards look odd")
    assert result.action == "deployment_rolled_back" and result.champion == 1
    assert deployments.get(db, started.id).status == "rolled_back"
    assert deployments.serving_plans(db)[MODEL].candidate is None
    events = [n for n in list_notifications(db) if n["sink"] == "*"]
    assert [e["event"] for e in events] == ["deployment.rollback"]
    assert events[0]["payload"]["reasons"] == ["dashboards look odd"]
    assert rollout.client.list_alerts(MODEL) == []  # a person decided: nothing to alert


def test_the_policy_is_checked_before_a_staged_rollout_starts(rollout: Rollout) -> None:
    db = rollout.client.db
    rollout.client.set_policy(MODEL, GUARDED)
    for strategy, steps in (("canary", [5, 100]), ("ab", [50]), ("replace", None)):
        with pytest.raises(GateFailed, match="could not become champion"):
            actions.deploy(db, "ann", MODEL, 2, strategy=strategy, steps=steps)
    assert deployments.history(db, MODEL) == []
    shadow = actions.deploy(db, "ann", MODEL, 2, strategy="shadow")  # a shadow serves nobody
    actions.rollback(db, "ann", MODEL, reason="done looking")
    assert shadow.limits["max_error_rate_increase"] == 0.02  # the policy's limits, frozen in
    with pytest.raises(InvalidInput):
        actions.deploy(db, "ann", MODEL, 2, strategy="canary", steps=[5, 100], force=True)
    with pytest.raises(InvalidInput):
        actions.deploy(db, "ann", MODEL, 2, strategy="replace", force=True)
    forced = actions.deploy(
        db, "ann", MODEL, 2, strategy="replace", force=True, reason="incident 42: old one leaks"
    )
    assert forced.status == "completed" and rollout.champion() == 2
    assert rollout.client.audit_log(subject=f"model:{MODEL}/2", action="gate.override")


def test_a_policy_handed_to_deploy_gives_defaults_and_never_loosens_the_checks(
    rollout: Rollout,
) -> None:
    """``policy=`` is where a deployment's defaults come from; whether the version may be
    deployed, and become champion, is the stored policy's to say, at every door."""
    from keel.domain.policy import Policy

    rollout.client.set_policy(MODEL, GUARDED)
    loose = Policy()
    for strategy, steps in (("canary", [5.0, 100.0]), ("replace", None)):
        with pytest.raises(GateFailed, match="could not become champion"):
            rollout.client.deploy(MODEL, 2, strategy=strategy, steps=steps, policy=loose)
    assert deployments.history(rollout.client.db, MODEL) == [] and rollout.champion() == 1


def test_limits_are_validated(rollout: Rollout) -> None:
    db = rollout.client.db
    with pytest.raises(InvalidInput, match="unknown limits"):
        actions.deploy(db, "ann", MODEL, 2, strategy="canary", steps=[5], limits={"speed": 1})
    with pytest.raises(InvalidInput) as caught:
        actions.deploy(db, "ann", MODEL, 2, strategy="canary", steps=[5], limits={"alpha": 2})
    assert caught.value.field == "limits.alpha"


def test_an_interrupted_promotion_is_finished_by_the_next_step(rollout: Rollout) -> None:
    db = rollout.client.db
    started = actions.deploy(db, "ann", MODEL, 2, strategy="canary", steps=[5, 100])
    # the promoter moved the alias and died before marking the deployment
    aliases.set_alias(db, "controller", MODEL, "champion", 2, "deployment #1 passed")
    result = rollout.advance(1)
    assert result.action == "promote" and "interrupted" in result.reasons[0]
    assert deployments.get(db, started.id).status == "promoted" and rollout.champion() == 2


def test_a_rollback_during_a_promotion_wins(rollout: Rollout) -> None:
    db = rollout.client.db
    started = actions.deploy(db, "ann", MODEL, 2, strategy="canary", steps=[5, 100])
    # the promoter has moved the alias; a person rolls back before it marks the deployment
    aliases.set_alias(db, "controller", MODEL, "champion", 2, "deployment passed")
    actions.rollback(db, "bob", MODEL, reason="stop it")
    assert rollout.champion() == 1
    # the promoter's second write then finds the deployment ended and leaves stable serving
    with pytest.raises(Conflict):
        actions.promote(db, "controller", started, reason="passed every step")
    assert rollout.champion() == 1 and deployments.get(db, started.id).status == "rolled_back"


@pytest.mark.parametrize("strategy", ["replace", "canary", "shadow"])
def test_promote_then_roll_back_restores_the_state(rollout: Rollout, strategy: str) -> None:
    db = rollout.client.db
    before = deployments.serving_plans(db)
    actions.deploy(
        db,
        "ann",
        MODEL,
        2,
        strategy=strategy,
        steps=[100] if strategy == "canary" else None,
        limits={"promote_shadow": True, "max_rows": 200},
    )
    if strategy != "replace":
        ids = rollout.rows(1, 300, variant="stable")
        rollout.rows(
            2,
            300,
            variant="candidate" if strategy == "canary" else "shadow",
            request_ids=ids if strategy == "shadow" else None,
            same_requests=strategy == "shadow",
        )
        assert rollout.advance(601).action == "promote"
    assert rollout.champion() == 2
    actions.rollback(db, "bob", MODEL, reason="back to where we were")
    assert deployments.serving_plans(db) == before


def test_a_replace_interrupted_before_the_champion_moved_is_finished(rollout: Rollout) -> None:
    db = rollout.client.db
    started = deployments.start(db, "ann", MODEL, 2, strategy="replace")  # then the crash
    result = rollout.advance(1)
    assert result.action == "complete" and result.deployment_after.status == "completed"
    assert rollout.champion() == 2 and deployments.get(db, started.id).status == "completed"


def test_an_archived_candidate_stops_its_rollout(rollout: Rollout) -> None:
    db = rollout.client.db
    actions.deploy(db, "ann", MODEL, 2, strategy="canary", steps=[5, 100])
    rollout.client.archive_version(f"{MODEL}/2", reason="leaked training data")
    result = rollout.advance(700)
    assert result.action == "stop" and "archived" in result.reasons[0]
    assert rollout.champion() == 1 and deployments.running(db, MODEL) is None


def test_a_policy_tightened_during_the_rollout_stops_it_at_promotion(rollout: Rollout) -> None:
    db = rollout.client.db
    actions.deploy(db, "ann", MODEL, 2, strategy="canary", steps=[100])
    rollout.client.set_policy(MODEL, GUARDED)  # version 2 was never gated
    rollout.rows(1, 300, variant="stable")
    rollout.rows(2, 300, variant="candidate")
    result = rollout.advance(601)
    assert result.action == "stop" and "cannot become champion" in result.reasons[0]
    assert result.deployment_after.status == "stopped" and rollout.champion() == 1
    events = [n["event"] for n in list_notifications(db) if n["sink"] == "*"]
    assert events == ["deployment.stopped"]
