"""The version links (``*version_id`` columns) on both stores: the store refuses a link to a
version it does not have and the deletion of a version history refers to, and every writer of
deployments, rollout alerts and retrains fills them from the version it names."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa

from keel.client import Client
from keel.controller import retrains
from keel.errors import NotFound, StoreConflict
from keel.registry import deployments
from keel.rollout.notices import raise_rollout_alert
from keel.store.schema import alerts, model_versions, models, monitor_windows
from keel.store.schema import deployments as deployment_rows
from keel.store.schema import retrains as retrain_rows
from keel.store.version_links import version_id

AT = datetime(2026, 11, 1, tzinfo=UTC)
MISSING = 987_654


@pytest.fixture
def versions(client: Client, cancer_frame: Any, fitted_model: Any) -> dict[int, int]:
    """Three versions of ``cancer``, the first one champion: their ids by number."""
    snapshot = client.register_snapshot(cancer_frame, "cancer")
    for _ in range(3):
        client.register_model("cancer", fitted_model, training_data=snapshot, target="target")
    client.set_alias("cancer", "champion", 1, reason="first")
    with client.db.read() as conn:
        rows = conn.execute(
            sa.select(model_versions.c.version, model_versions.c.id)
            .join(models, models.c.id == model_versions.c.model_id)
            .where(models.c.name == "cancer")
        ).all()
    return {int(number): int(key) for number, key in rows}


def _window(version: int, link: int) -> dict[str, Any]:
    return {
        "model": "cancer",
        "version": version,
        "version_id": link,
        "kind": "rows",
        "start_at": AT,
        "end_at": AT + timedelta(minutes=30),
        "rows": 100,
        "index_sha256": "0" * 64,
        "reference": {},
        "drift": {},
        "estimate": {},
        "operations": {},
        "performance": {},
        "labelled_rows": 0,
        "quality": {},
        "created_at": AT,
        "updated_at": AT,
    }


def _deployment(candidate: int, link: int) -> dict[str, Any]:
    return {
        "model": "cancer",
        "strategy": "canary",
        "stable_version": None,
        "candidate_version": candidate,
        "candidate_version_id": link,
        "steps": [100.0],
        "step": 0,
        "candidate_weight": 100.0,
        "interval_s": 60.0,
        "sticky": False,
        "limits": {},
        "status": "stopped",
        "reason": "",
        "analysis": [],
        "created_by": "tester",
        "created_at": AT,
        "updated_at": AT,
        "step_started_at": AT,
    }


def test_the_store_refuses_a_link_to_a_version_it_does_not_have(
    client: Client, versions: dict[int, int]
) -> None:
    for table, row in [
        (monitor_windows, _window(2, versions[2])),
        (deployment_rows, _deployment(2, versions[2])),
    ]:
        with client.db.write() as conn:  # the same row with a real link is accepted
            conn.execute(table.insert().values(**row))
        dangling = {**row, next(k for k in row if k.endswith("version_id")): MISSING}
        with pytest.raises(StoreConflict), client.db.write() as conn:
            conn.execute(table.insert().values(**dangling))


def test_a_version_history_refers_to_cannot_be_deleted(
    client: Client, versions: dict[int, int]
) -> None:
    with client.db.write() as conn:
        conn.execute(monitor_windows.insert().values(**_window(3, versions[3])))
    with pytest.raises(StoreConflict), client.db.write() as conn:
        conn.execute(model_versions.delete().where(model_versions.c.id == versions[3]))
    with client.db.read() as conn:
        assert conn.execute(
            sa.select(model_versions.c.id).where(model_versions.c.id == versions[3])
        ).scalar_one()


def test_a_deployment_links_its_stable_and_candidate_versions(
    client: Client, versions: dict[int, int]
) -> None:
    started = deployments.start(client.db, "ann", "cancer", 2, strategy="canary", steps=[5, 100])
    with client.db.read() as conn:
        row = conn.execute(
            sa.select(deployment_rows).where(deployment_rows.c.id == started.id)
        ).one()
    assert (row.stable_version, row.candidate_version) == (1, 2)
    assert (row.stable_version_id, row.candidate_version_id) == (versions[1], versions[2])


def test_a_rollout_alert_links_the_version_rolled_out(
    client: Client, versions: dict[int, int]
) -> None:
    with client.db.write() as conn:
        alert_id = raise_rollout_alert(
            conn, "ann", "cancer", 3, message="error rate 9%", details={}, now=AT
        )
        again = raise_rollout_alert(  # breaching again counts on the same row
            conn, "ann", "cancer", 3, message="error rate 12%", details={}, now=AT
        )
    assert again == alert_id
    with client.db.read() as conn:
        row = conn.execute(sa.select(alerts).where(alerts.c.id == alert_id)).one()
    assert (row.rule, row.version_id, row.occurrences) == ("rollout of cancer/3", versions[3], 2)


def test_a_retrain_links_the_champion_it_started_from_and_its_candidate(
    client: Client, versions: dict[int, int]
) -> None:
    db, lease = client.db, timedelta(seconds=30)

    def links(retrain_id: int) -> tuple[int | None, int | None]:
        with db.read() as conn:
            row = conn.execute(sa.select(retrain_rows).where(retrain_rows.c.id == retrain_id)).one()
        return row.champion_version_id, row.candidate_version_id

    manual = retrains.request(db, "ann", "cancer", trigger="manual", reason="why not", now=AT)
    assert links(manual.id) == (None, None)  # a manual retrain names its champion when it starts
    assert retrains.take_lease(db, manual.id, "me", lease, now=AT)
    training = retrains.move(
        db,
        "ann",
        manual,
        "me",
        "training",
        reason="started",
        now=AT,
        pipeline_run_id="a" * 32,
        details={"champion": 1, "attempts": 0},
    )
    assert links(manual.id) == (versions[1], None)
    rejected = retrains.move(
        db, "ann", training, "me", "rejected", reason="gates", now=AT, candidate_version=3
    )
    assert links(manual.id) == (versions[1], versions[3])
    assert rejected.candidate_version == 3

    triggered = retrains.request(  # a trigger names the champion it judged when it fires
        db, "ann", "cancer", trigger="drift", reason="3 features", now=AT, details={"champion": 1}
    )
    assert links(triggered.id) == (versions[1], None)


def test_a_link_to_no_version_is_none_and_to_a_missing_one_not_found(
    client: Client, versions: dict[int, int]
) -> None:
    with client.db.read() as conn:
        assert version_id(conn, "cancer", 2) == versions[2]
        assert version_id(conn, "cancer", None) is None  # nothing to point at
        with pytest.raises(NotFound) as caught:
            version_id(conn, "cancer", 7)
        assert (caught.value.kind, caught.value.name) == ("version", "cancer/7")
        with pytest.raises(NotFound):  # the number exists, but of another model
            version_id(conn, "fraud", 1)


def test_writers_naming_a_missing_version_write_nothing(
    client: Client, versions: dict[int, int]
) -> None:
    db, lease = client.db, timedelta(seconds=30)

    def counts() -> tuple[int, int]:
        with db.read() as conn:
            return (
                len(conn.execute(sa.select(alerts.c.id)).all()),
                len(conn.execute(sa.select(retrain_rows.c.id)).all()),
            )

    with pytest.raises(NotFound, match="cancer/8"), db.write() as conn:
        raise_rollout_alert(conn, "ann", "cancer", 8, message="error rate 9%", details={}, now=AT)
    with pytest.raises(NotFound, match="cancer/9"):
        retrains.request(
            db, "ann", "cancer", trigger="drift", reason="x", now=AT, details={"champion": 9}
        )
    assert counts() == (0, 0)

    queued = retrains.request(db, "ann", "cancer", trigger="manual", reason="x", now=AT)
    assert retrains.take_lease(db, queued.id, "me", lease, now=AT)
    with pytest.raises(NotFound, match="cancer/6"):
        retrains.move(
            db,
            "ann",
            queued,
            "me",
            "training",
            reason="started",
            now=AT,
            details={"champion": 6, "attempts": 0},
        )
    training = retrains.move(
        db, "ann", queued, "me", "training", reason="started", now=AT, details={"champion": 1}
    )
    with pytest.raises(NotFound, match="cancer/5"):
        retrains.move(
            db, "ann", training, "me", "rejected", reason="gates", now=AT, candidate_version=5
        )
    assert retrains.get(db, queued.id).state == "training"  # the refused move changed nothing
    assert retrains.get(db, queued.id).candidate_version is None
