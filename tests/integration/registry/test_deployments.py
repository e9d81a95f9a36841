"""Deployments' desired state and tokens in the store, on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest

from keel.client import Client
from keel.domain.deployments import ServingPlan, bucket
from keel.errors import Conflict, InvalidInput
from keel.registry import deployments, tokens


@pytest.fixture
def two_versions(client: Client, cancer_frame, fitted_model) -> Client:
    snapshot = client.register_snapshot(cancer_frame, "cancer")
    for _ in range(2):
        client.register_model("cancer", fitted_model, training_data=snapshot, target="target")
    client.set_alias("cancer", "champion", 1, reason="first")
    return client


def test_a_deployment_changes_the_serving_plan_and_is_audited(two_versions: Client) -> None:
    db = two_versions.db
    before = deployments.serving_stamp(db)
    assert deployments.serving_plans(db) == {"cancer": ServingPlan("cancer", 1)}
    started = deployments.start(
        db, "ann", "cancer", 2, strategy="canary", steps=[5, 50, 100], interval_s=60
    )
    assert (started.stable_version, started.candidate_weight, started.status) == (1, 5.0, "running")
    assert deployments.serving_stamp(db) != before
    plan = deployments.serving_plans(db)["cancer"]
    assert (plan.stable, plan.candidate, plan.candidate_weight) == (1, 2, 5.0)
    with pytest.raises(Conflict):
        deployments.start(db, "ann", "cancer", 2, strategy="canary", steps=[10])
    with db.write() as conn:
        moved = deployments.move_in(
            conn, "ann", started, action="deployment.step", step=1, candidate_weight=50.0
        )
    assert moved.step == 1 and moved.candidate_weight == 50.0
    with db.write() as conn:
        deployments.move_in(conn, "ann", moved, action="deployment.rollback", status="rolled_back")
    with db.write() as conn, pytest.raises(Conflict):
        deployments.move_in(conn, "ann", moved, action="deployment.step", step=2)
    assert deployments.serving_plans(db) == {"cancer": ServingPlan("cancer", 1)}
    actions = [e.action for e in two_versions.audit_log(subject="model:cancer/2")]
    assert actions[:3] == ["deployment.rollback", "deployment.step", "deployment.start"]
    assert two_versions.verify_audit().intact


def test_bad_deployments_are_refused(two_versions: Client) -> None:
    db = two_versions.db
    for kwargs, field in [
        ({"strategy": "blue-green"}, "strategy"),
        ({"strategy": "canary", "steps": [50, 10]}, "steps"),
        ({"strategy": "canary", "steps": [0]}, "steps"),
        ({"strategy": "ab", "steps": [50, 60]}, "steps"),
        ({"strategy": "ab", "steps": [100]}, "steps"),
        ({"strategy": "canary", "steps": [5], "interval_s": 0}, "interval"),
    ]:
        with pytest.raises(InvalidInput) as caught:
            deployments.start(db, "ann", "cancer", 2, **kwargs)
        assert caught.value.field == field
    with pytest.raises(Conflict):
        deployments.start(db, "ann", "cancer", 1, strategy="replace")


def test_sticky_buckets_split_as_weighted() -> None:
    plan = ServingPlan("m", 1, 2, "ab", 30.0, True, 9)
    chosen = [plan.choose(f"customer-{i}", 99.0)[1] for i in range(20_000)]
    share = chosen.count("candidate") / len(chosen)
    assert 0.28 < share < 0.32
    assert all(
        plan.choose("customer-7", d)[0] == plan.choose("customer-7", 0.0)[0] for d in (1, 99)
    )
    assert bucket("a", 1) != bucket("a", 2)


def test_a_plan_that_is_not_sticky_routes_each_request_on_its_own() -> None:
    """``sticky: false`` (``--no-sticky``): the same key goes where each request's draw says."""
    plan = ServingPlan("m", 1, 2, "canary", 30.0, False, 9)
    chosen = {plan.choose("customer-7", draw)[1] for draw in (1.0, 29.0, 31.0, 99.0)}
    assert chosen == {"candidate", "stable"}
    assert plan.choose("customer-7", 10.0)[1] == "candidate"
    assert plan.choose("customer-7", 90.0)[1] == "stable"


def test_tokens_are_stored_hashed_and_can_be_revoked(client: Client) -> None:
    assert not tokens.configured(client.db)
    token, record = tokens.create(client.db, "ann", "deploy", "ci")
    assert token.startswith(f"keel_{record.prefix}_") and tokens.configured(client.db)
    with client.db.read() as conn:
        stored = conn.exec_driver_sql("SELECT token_hash FROM api_tokens").scalar_one()
    assert token not in stored and len(stored) == 64
    assert tokens.verify(client.db, token) == record
    assert tokens.verify(client.db, token + "x") is None
    assert tokens.allows("admin", "deploy") and not tokens.allows("predict", "admin")
    tokens.revoke(client.db, "ann", record.prefix)
    assert tokens.verify(client.db, token) is None and not tokens.configured(client.db)
    with pytest.raises(InvalidInput):
        tokens.create(client.db, "ann", "root")
