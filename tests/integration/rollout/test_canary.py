"""Canary rollouts on SQLite and PostgreSQL: steps, promotion, and rollback on regressions."""

from __future__ import annotations

import pytest

from keel.monitoring.outbox import list_notifications
from keel.registry import deployments
from keel.rollout import actions

from .conftest import MODEL, Rollout


def _deploy(rollout: Rollout, steps: list[float], *, sticky: bool = False, **limits: object) -> int:
    started = actions.deploy(
        rollout.client.db,
        "ann",
        MODEL,
        2,
        strategy="canary",
        steps=steps,
        interval_s=600,
        limits=dict(limits),
        reason="retrained on March",
        sticky=sticky,
    )
    return started.id


def test_a_healthy_canary_steps_through_and_is_promoted(rollout: Rollout) -> None:
    deployment_id = _deploy(rollout, [5, 25, 50, 100])
    weights = [rollout.running().candidate_weight]
    early = rollout.advance(10)  # rows are missing, and so is time
    assert early.action == "wait" and "waiting for rows" in early.reasons[0]
    for _ in range(3):
        rollout.rows(1, 400, variant="stable")
        rollout.rows(2, 300, variant="candidate")
        waiting = rollout.advance(60)  # within limits, but the interval runs
        assert waiting.action == "wait" and "interval" in waiting.reasons[0]
        moved = rollout.advance(601)
        assert moved.action == "step", moved.reasons
        weights.append(moved.deployment_after.candidate_weight)
    rollout.rows(2, 300)  # the last step: all traffic on the candidate, logged by the SDK
    done = rollout.advance(601)
    assert done.action == "promote", done.reasons
    assert weights == [5.0, 25.0, 50.0, 100.0]
    assert rollout.champion() == 2
    record = deployments.get(rollout.client.db, deployment_id)
    assert record.status == "promoted" and len(record.analysis) == 4
    assert all(entry["verdict"] == "pass" for entry in record.analysis)
    checks = {c["metric"] for c in record.analysis[0]["checks"]}
    assert checks == {"error_rate", "latency_p99_ms", "accuracy"}  # accuracy: CBPE estimates
    trail = [e.action for e in rollout.client.audit_log(subject=f"model:{MODEL}/2")]
    assert trail[:5] == [
        "deployment.promote",
        "deployment.step",
        "deployment.step",
        "deployment.step",
        "deployment.start",
    ]
    moves = rollout.client.alias_history(MODEL, "champion")
    assert [m.version for m in moves] == [1, 2] and f"#{deployment_id}" in moves[-1].reason
    assert rollout.advance(0, at=record.finished_at).action == "none"


@pytest.mark.parametrize(
    ("regression", "words"),
    [({"error_rate": 0.2}, "error rate"), ({"latency_ms": 40.0}, "latency p99")],
)
def test_a_regression_is_rolled_back_at_the_first_analysed_step(
    rollout: Rollout, regression: dict[str, float], words: str
) -> None:
    deployment_id = _deploy(rollout, [10, 50, 100], auto_rollback=True)
    rollout.rows(1, 2_000, variant="stable")
    rollout.rows(2, 250, variant="candidate", **regression)  # type: ignore[arg-type]
    result = rollout.advance(30)  # a breach does not wait for the interval
    assert result.action == "rollback"
    assert any(words in reason for reason in result.reasons)
    assert rollout.champion() == 1
    assert deployments.serving_plans(rollout.client.db)[MODEL].candidate is None
    record = deployments.get(rollout.client.db, deployment_id)
    assert record.status == "rolled_back" and record.analysis[-1]["verdict"] == "breach"
    entry = rollout.client.audit_log(subject=f"model:{MODEL}/2")[0]
    assert entry.action == "deployment.rollback" and words in entry.details["reason"]
    (alert,) = rollout.client.list_alerts(MODEL)
    assert (alert.rule, alert.state, alert.severity) == (
        f"rollout of {MODEL}/2",
        "firing",
        "critical",
    )
    events = [n for n in list_notifications(rollout.client.db) if n["sink"] == "*"]
    assert [(n["event"], n["alert_id"]) for n in events] == [("deployment.rollback", alert.id)]
    assert words in "; ".join(events[0]["payload"]["reasons"])
    assert rollout.client.verify_audit().intact


def test_without_auto_rollback_a_breach_stops_the_rollout(rollout: Rollout) -> None:
    _deploy(rollout, [10, 100], auto_rollback=False)
    rollout.rows(1, 2_000)
    rollout.rows(2, 250, error_rate=0.25)
    result = rollout.advance(700)
    assert result.action == "stop" and result.deployment_after.status == "stopped"
    assert rollout.champion() == 1
    assert deployments.serving_plans(rollout.client.db)[MODEL].candidate is None
    events = [n["event"] for n in list_notifications(rollout.client.db) if n["sink"] == "*"]
    assert events == ["deployment.stopped"]
    assert rollout.client.list_alerts(MODEL)[0].rule == f"rollout of {MODEL}/2"


def test_an_accuracy_regression_found_through_labels_rolls_back(rollout: Rollout) -> None:
    _deploy(rollout, [50, 100], auto_rollback=True, min_labelled_rows=150)
    stable = rollout.rows(1, 400, variant="stable")
    candidate = rollout.rows(2, 400, variant="candidate")
    rollout.label(stable[:300], wrong=0.04)
    rollout.label(candidate[:300], wrong=0.30)
    result = rollout.advance(700)
    assert result.action == "rollback"
    assert any("accuracy (labels)" in reason for reason in result.reasons)
    check = next(c for c in result.analysis["checks"] if c["metric"] == "accuracy")
    assert check["stable"] - check["candidate"] > 0.15 and check["breached"]
    assert rollout.champion() == 1


def test_rows_of_the_previous_step_do_not_count_for_the_next(rollout: Rollout) -> None:
    _deploy(rollout, [10, 50, 100])
    rollout.rows(1, 400)
    rollout.rows(2, 300)
    assert rollout.advance(601).action == "step"
    waiting = rollout.advance(601)  # the interval is over, but the new step has no rows yet
    assert waiting.action == "wait" and "waiting for rows" in waiting.reasons[0]


@pytest.mark.parametrize("sticky", [True, False])
def test_a_sticky_canary_counts_keys_so_errors_of_two_customers_are_not_a_regression(
    rollout: Rollout, sticky: bool
) -> None:
    _deploy(rollout, [10, 50, 100], sticky=sticky, auto_rollback=True)
    # 2 of 100 customers always get an error on stable (2%), 2 of 40 on the candidate (5%)
    for version, variant, keys, each in ((1, "stable", 100, 20), (2, "candidate", 40, 10)):
        names = [f"{variant}-{k}" for k in range(keys) for _ in range(each)]
        rollout.rows(
            version, 2 * each, variant=variant, error_rate=1.0, entity_keys=names[: 2 * each]
        )
        rest = names[2 * each :]
        rollout.rows(version, len(rest), variant=variant, entity_keys=rest)
    result = rollout.advance(30)
    errors = next(c for c in result.analysis["checks"] if c["metric"] == "error_rate")
    assert errors["candidate"] - errors["stable"] > 0.02
    if sticky:  # by keys: 4 customers, not 60 independent errors
        assert result.action == "wait" and "interval" in result.reasons[0]
        assert "by 100 and 40 keys" in errors["detail"] and not errors["breached"]
        assert result.analysis["candidate"]["unit"] == "keys"
    else:  # each request its own observation: significant, rolled back
        assert result.action == "rollback" and "by rows" in errors["detail"]
        assert rollout.champion() == 1
