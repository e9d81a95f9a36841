"""`verify_audit` proves the state from the trail, on both back ends: tables edited behind the
trail's back, artifacts swapped or corrupted and a trail cut off at its end are all reported,
each naming the table, the row and what the trail says instead."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import sqlalchemy as sa
from sklearn.linear_model import LogisticRegression

from keel.client import Client
from keel.domain.audit import AuditFinding, AuditVerification
from keel.registry import audit, tokens
from keel.settings import Settings
from keel.store.schema import (
    aliases,
    api_tokens,
    audit_head,
    audit_log,
    deployments,
    model_versions,
    models,
)


@pytest.fixture
def other_model(cancer_frame: pd.DataFrame) -> Any:
    """A second model with other coefficients, so its artifact differs from ``fitted_model``."""
    features = cancer_frame.drop(columns=["target"])
    return LogisticRegression(C=0.01, max_iter=5000).fit(features, cancer_frame["target"])


@pytest.fixture
def store(client: Client, fitted_model: Any, other_model: Any) -> Client:
    """cancer/1 and cancer/2 (different artifacts), champion on 1."""
    client.register_model("cancer", fitted_model)
    client.register_model("cancer", other_model)
    client.set_alias("cancer", "champion", 1, reason="first")
    return client


def sql(client: Client, statement: Any, **params: Any) -> None:
    """Change the store directly, as someone with a database console would."""
    with client.db.engine.begin() as conn:
        conn.execute(sa.text(statement) if isinstance(statement, str) else statement, params)


def version_id(client: Client, name: str, number: int) -> int:
    with client.db.read() as conn:
        return int(
            conn.execute(
                sa.select(model_versions.c.id)
                .join(models, models.c.id == model_versions.c.model_id)
                .where(models.c.name == name, model_versions.c.version == number)
            ).scalar_one()
        )


def only(result: AuditVerification, table: str) -> list[AuditFinding]:
    return [f for f in result.findings if f.table == table]


def test_an_untampered_store_verifies_clean_after_every_kind_of_change(
    store: Client, fitted_model: Any
) -> None:
    client = store
    client.register_model("cancer", fitted_model)
    client.set_alias("cancer", "challenger", 2, reason="try it")
    client.deploy("cancer", 2, strategy="canary", steps=[10, 50], interval=60, reason="canary")
    client.rollback("cancer", reason="error rate")
    client.deploy("cancer", 3, strategy="replace", reason="release")  # moves the champion
    client.delete_alias("cancer", "challenger", reason="done")
    client.archive_version("cancer/2", reason="rolled back")
    client.set_alias("cancer", "champion", 1, reason="back to the first")
    _, predict = tokens.create(client.db, "ann", "predict", "scorer")
    tokens.create(client.db, "ann", "admin")
    tokens.revoke(client.db, "ann", predict.prefix)
    result = client.verify_audit()
    assert result.findings == ()
    assert result.intact and result.chain.intact
    head = client.audit_log(limit=1)[0].seq
    assert result.checkpoint_seq == head  # every audited write moved the keyed checkpoint
    files = {v.artifact_sha256 for v in client.list_versions("cancer")}
    assert result.artifacts_checked == len(files)  # every distinct artifact file was hashed
    assert result.notes == ()


def test_an_alias_moved_in_the_table_is_found(store: Client) -> None:
    sql(
        store,
        aliases.update().values(version_id=version_id(store, "cancer", 2)),
    )
    result = store.verify_audit()
    assert result.chain.intact  # the chain alone saw nothing
    assert not result.intact
    (finding,) = result.findings
    assert (finding.table, finding.row, finding.found) == (
        "aliases",
        "cancer@champion",
        "version 2",
    )
    assert finding.expected.startswith("version 1 (seq ")


def test_an_alias_added_or_removed_in_the_table_is_found(store: Client) -> None:
    sql(
        store,
        aliases.insert().values(
            model_id=sa.select(models.c.id).scalar_subquery(),
            alias="shadow",
            version_id=version_id(store, "cancer", 2),
            updated_at=pd.Timestamp.now(tz="UTC").to_pydatetime(),
        ),
    )
    sql(store, aliases.delete().where(aliases.c.alias == "champion"))
    found = {
        (f.row, f.found, f.expected.split(" (")[0]) for f in only(store.verify_audit(), "aliases")
    }
    assert found == {
        ("cancer@shadow", "version 2", "no such alias"),
        ("cancer@champion", "no such row", "version 1"),
    }


def test_a_version_pointed_at_another_stored_artifact_is_found(store: Client) -> None:
    first, second = store.get_version("cancer/1"), store.get_version("cancer/2")
    assert first.artifact_sha256 != second.artifact_sha256
    sql(
        store,
        model_versions.update()
        .where(model_versions.c.id == version_id(store, "cancer", 1))
        .values(artifact_sha256=second.artifact_sha256, format="cloudpickle"),
    )
    result = store.verify_audit()
    assert not result.intact
    by_row = {f.row: f for f in result.findings}
    assert set(by_row) == {"cancer/1 artifact_sha256", "cancer/1 format"}
    assert by_row["cancer/1 artifact_sha256"].found == second.artifact_sha256
    assert by_row["cancer/1 artifact_sha256"].expected.startswith(first.artifact_sha256)
    assert (by_row["cancer/1 format"].found, by_row["cancer/1 format"].table) == (
        "cloudpickle",
        "model_versions",
    )


def test_a_version_status_trust_or_existence_changed_in_the_table_is_found(
    store: Client, fitted_model: Any
) -> None:
    store.archive_version("cancer/2", reason="old")
    forged_trust = {
        "types": ["os.system"],
        "code": True,
        "by": "mallory",
        "at": "now",
        "reason": "",
    }
    sql(store, model_versions.update().where(model_versions.c.version == 2).values(status="ready"))
    sql(
        store,
        model_versions.update().where(model_versions.c.version == 1).values(trust=forged_trust),
    )
    result = store.verify_audit()
    rows = {f.row: f for f in result.findings}
    assert rows["cancer/2 status"].found == "ready"
    assert rows["cancer/2 status"].expected.startswith("archived (seq ")
    assert '"os.system"' in rows["cancer/1 trust"].found
    assert rows["cancer/1 trust"].expected.startswith("null")
    store.register_model("lonely", fitted_model)  # holds no alias, so its row can go
    sql(store, model_versions.delete().where(model_versions.c.id == version_id(store, "lonely", 1)))
    rows = {f.row: f for f in store.verify_audit().findings}
    assert rows["lonely/1"].found == "no such row"
    assert rows["lonely/1"].table == "model_versions"


def test_version_metrics_changed_in_the_table_are_found(store: Client, fitted_model: Any) -> None:
    with store.start_run("train") as run:
        store.register_model("cancer", fitted_model, metrics={"auc": 0.8})
        run.log_metric("accuracy", 0.9)  # followed onto cancer/3 through the trail
    assert store.verify_audit().findings == ()
    sql(
        store,
        model_versions.update()
        .where(model_versions.c.version == 3)
        .values(metrics={"auc": 0.99, "accuracy": 0.9}),
    )
    rows = {f.row: f for f in store.verify_audit().findings}
    assert '"auc":0.99' in rows["cancer/3 metrics"].found
    assert rows["cancer/3 metrics"].expected.startswith('{"accuracy":0.9,"auc":0.8} (seq ')


def test_trust_recorded_through_the_trail_is_explained(store: Client) -> None:
    record = {
        "types": ["mylib.Scaler"],
        "code": False,
        "by": "ann",
        "at": "2026-01-01",
        "reason": "ok",
    }
    with store.db.write() as conn:  # what recording a trust decision does
        conn.execute(
            model_versions.update().where(model_versions.c.version == 1).values(trust=record)
        )
        audit.append(conn, "ann", "version.trust", "model:cancer/1", {"trust": record})
    assert store.verify_audit().intact


def test_the_newest_entry_cut_off_with_the_head_rolled_back_is_found_by_the_checkpoint(
    store: Client,
) -> None:
    store.approve("cancer/2", reason="reviewed")  # the newest entry; it changes no replayed table
    newest = store.audit_log(limit=2)
    with store.db.engine.begin() as conn:
        conn.execute(audit_log.delete().where(audit_log.c.seq == newest[0].seq))
        conn.execute(audit_head.update().values(seq=newest[1].seq, hash=newest[1].hash))
    result = store.verify_audit()
    assert result.chain.intact  # a shorter chain is still a whole chain
    assert not result.intact
    (finding,) = result.findings
    assert (finding.table, finding.row) == ("audit_head", "id 1")
    assert finding.found == f"a head at seq {newest[1].seq}"
    assert f"seq {newest[0].seq} or later" in finding.expected


def test_a_rewritten_tail_keeps_being_found_after_new_writes(store: Client) -> None:
    store.approve("cancer/2", reason="reviewed")
    newest = store.audit_log(limit=2)
    with store.db.engine.begin() as conn:
        conn.execute(audit_log.delete().where(audit_log.c.seq == newest[0].seq))
        conn.execute(audit_head.update().values(seq=newest[1].seq, hash=newest[1].hash))
    store.approve("cancer/1", reason="also reviewed")  # takes the cut entry's seq
    store.approve("cancer/1", reason="twice")  # and goes past it
    result = store.verify_audit()
    assert result.chain.intact
    assert result.checkpoint_seq == newest[0].seq  # the diverged checkpoint was not moved
    (finding,) = result.findings
    assert (finding.table, finding.row) == ("audit_log", f"seq {newest[0].seq}")
    assert newest[0].hash[:12] in finding.expected


def test_a_checkpoint_sealed_with_another_key_is_reported(
    store: Client, settings: Settings, tmp_path: Path
) -> None:
    assert store.verify_audit().intact
    other = Settings(**{**settings.model_dump(), "audit_key": "another key, 16 chars or more"})
    with Client(settings=other) as stranger:
        result = stranger.verify_audit()
    (finding,) = result.findings
    assert finding.table == "audit checkpoint"
    assert "MAC does not match" in finding.found


def test_a_corrupted_or_missing_artifact_is_found_when_files_are_checked(store: Client) -> None:
    sha = store.get_version("cancer/1").artifact_sha256
    path = Path(store.artifacts.location(sha))
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))
    seen: list[tuple[int, int]] = []
    result = store.verify_audit(progress=lambda done, total: seen.append((done, total)))
    (finding,) = result.findings
    assert (finding.table, finding.row) == ("artifacts", f"{sha[:12]} (of cancer/1)")
    assert finding.found.startswith("a file whose SHA-256 is ")
    assert str(path) in finding.expected
    assert seen[-1][0] == seen[-1][1] > 0  # the progress reached its end
    skipped = store.verify_audit(artifacts=False)
    assert skipped.intact and skipped.artifacts_checked is None
    assert "not hashed" in skipped.notes[0]
    path.unlink()
    (missing,) = store.verify_audit(artifacts=True).findings
    assert missing.found == "no file"


def test_a_deployment_changed_or_added_in_the_table_is_found(store: Client) -> None:
    started = store.deploy("cancer", 2, strategy="canary", steps=[5, 50], interval=60)
    sql(
        store,
        deployments.update()
        .where(deployments.c.id == started.id)
        .values(candidate_weight=100.0, step=1, candidate_version=1),
    )
    sql(
        store,
        deployments.insert().values(
            {
                **{c: getattr(started, c) for c in ("model", "strategy", "steps", "sticky")},
                **{c: getattr(started, c) for c in ("limits", "reason", "analysis", "created_by")},
                **{c: getattr(started, c) for c in ("created_at", "updated_at", "step_started_at")},
                "stable_version": 1,
                "candidate_version": 2,
                "step": 0,
                "candidate_weight": 50.0,
                "interval_s": 60.0,
                "status": "running",
            }
        ),
    )
    rows = {f.row: f for f in only(store.verify_audit(), "deployments")}
    assert set(rows) == {
        f"#{started.id} candidate_weight",
        f"#{started.id} step",
        f"#{started.id} candidate_version",
        f"#{started.id + 1}",
    }
    assert rows[f"#{started.id} candidate_weight"].found == "100.0"
    assert rows[f"#{started.id} candidate_weight"].expected.startswith("5.0 (seq ")
    assert rows[f"#{started.id + 1}"].expected == "no such deployment: it was never started"


def test_a_token_changed_or_added_in_the_table_is_found(store: Client) -> None:
    _, scorer = tokens.create(store.db, "ann", "predict", "scorer")
    _, gone = tokens.create(store.db, "ann", "deploy", "old")
    tokens.revoke(store.db, "ann", gone.prefix)
    sql(store, api_tokens.update().where(api_tokens.c.id == scorer.id).values(role="admin"))
    sql(store, api_tokens.update().where(api_tokens.c.id == gone.id).values(revoked_at=None))
    sql(
        store,
        api_tokens.insert().values(
            name="backdoor",
            role="admin",
            prefix="deadbeef",
            token_hash=tokens.token_hash("keel_deadbeef_secret"),
            created_by="mallory",
            created_at=scorer.created_at,
        ),
    )
    rows = {f.row: f for f in only(store.verify_audit(), "api_tokens")}
    assert set(rows) == {
        f"token {scorer.prefix} role",
        f"token {gone.prefix} revoked_at",
        "token deadbeef",
    }
    assert rows[f"token {scorer.prefix} role"].found == "admin"
    assert rows[f"token {scorer.prefix} role"].expected.startswith("predict (seq ")
    assert (rows[f"token {gone.prefix} revoked_at"].found, rows["token deadbeef"].expected) == (
        "live",
        "no such token: never created",
    )


def test_a_token_hash_swapped_for_another_is_found(store: Client) -> None:
    _, scorer = tokens.create(store.db, "ann", "predict", "scorer")
    mine = tokens.token_hash("keel_aaaaaaaa_mine")
    sql(store, api_tokens.update().where(api_tokens.c.id == scorer.id).values(token_hash=mine))
    (finding,) = store.verify_audit().findings
    assert finding.row == f"token {scorer.prefix} token_hash"


def test_the_checkpoint_keeps_the_highest_head_under_concurrent_writers(
    client: Client, fitted_model: Any
) -> None:
    from concurrent.futures import ThreadPoolExecutor

    client.register_model("cancer", fitted_model)
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(lambda i: client.set_alias("cancer", f"a{i}", 1), range(24)))
    result = client.verify_audit()
    assert result.intact
    assert result.checkpoint_seq == client.audit_log(limit=1)[0].seq == 25


def test_a_checkpoint_that_cannot_be_written_never_fails_the_change(
    settings: Settings, tmp_path: Path, fitted_model: Any
) -> None:
    blocked = tmp_path / "not-a-folder"
    blocked.write_text("a file where the audit folder should be")
    with Client(
        settings=Settings(**{**settings.model_dump(), "audit_dir": str(blocked)})
    ) as client:
        client.register_model("cancer", fitted_model)  # the checkpoint write fails, logged only
        result = client.verify_audit()
    assert result.intact and result.checkpoint_seq is None
    assert any("no checkpoint" in note for note in result.notes)
